//! The Loki HTTP API: `POST /loki/api/v1/push` (JSON, snappy protobuf; gzip and deflate
//! content encodings) with Loki's status codes and messages.
//!
//! Flow of a push: decode (400 on a body that does not decode) → `seer_logstore::validate`
//! (bad streams and entries removed, messages kept) → tenant rate limit (429 for the whole
//! request, as Loki) → `LogDb::push` in `spawn_blocking` → 204, or 400/429 listing what was
//! refused while the rest is stored.

use crate::AppState;
use crate::remote_write::text;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seer_ingest::loki_push;
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Per-tenant ingestion rate limits (Loki's `ingestion_rate_mb` / `ingestion_burst_size_mb`).
#[derive(Debug)]
pub struct RateLimiter {
    bytes_per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter allowing `bytes_per_sec` with bursts up to `burst` bytes (0 = unlimited).
    pub fn new(bytes_per_sec: f64, burst: f64) -> RateLimiter {
        RateLimiter { bytes_per_sec, burst: burst.max(bytes_per_sec), buckets: Mutex::new(HashMap::new()) }
    }

    /// The configured rate, bytes per second.
    pub fn rate(&self) -> f64 {
        self.bytes_per_sec
    }

    /// Takes `bytes` from the tenant's bucket; false when the bucket does not hold them.
    pub fn take(&self, tenant: &str, bytes: f64) -> bool {
        if bytes <= 0.0 || self.bytes_per_sec <= 0.0 {
            return true;
        }
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let e = b.entry(tenant.to_string()).or_insert((self.burst, now));
        e.0 = (e.0 + now.duration_since(e.1).as_secs_f64() * self.bytes_per_sec).min(self.burst);
        e.1 = now;
        if e.0 >= bytes {
            e.0 -= bytes;
            return true;
        }
        false
    }

    /// Takes the bytes of `streams` from the tenant's bucket, or says in Loki's words why not.
    /// Returns the number of lines counted.
    pub fn admit(&self, tenant: &str, streams: &[seer_model::LogStream]) -> Result<usize, String> {
        let bytes: usize = streams.iter().flat_map(|st| st.entries.iter()).map(|e| e.size()).sum();
        let lines: usize = streams.iter().map(|st| st.entries.len()).sum();
        if self.take(tenant, bytes as f64) {
            return Ok(lines);
        }
        Err(format!(
            "Ingestion rate limit exceeded for user {tenant} (limit: {} bytes/sec) while attempting to ingest '{lines}' \
             lines totaling '{bytes}' bytes, reduce log volume or contact your Loki administrator to see if the limit \
             can be increased",
            self.bytes_per_sec as u64
        ))
    }
}

/// Reads the body according to `Content-Encoding`, as Loki does: none, `snappy` (passed
/// through: the protobuf path decompresses), `gzip`, `deflate` (raw DEFLATE).
fn decode_encoding(h: &HeaderMap, body: Bytes, limit: usize) -> Result<Vec<u8>, Response> {
    let enc = h.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_ascii_lowercase();
    match enc.as_str() {
        "" | "snappy" => Ok(body.to_vec()),
        "gzip" => seer_ingest::gzip_decompress(&body, limit).map_err(|e| text(StatusCode::BAD_REQUEST, e.to_string())),
        "deflate" => {
            let mut out = Vec::new();
            let mut d = flate2::read::DeflateDecoder::new(&body[..]).take(limit as u64 + 1);
            d.read_to_end(&mut out).map_err(|e| text(StatusCode::BAD_REQUEST, format!("deflate: {e}")))?;
            if out.len() > limit {
                return Err(text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("decompressed body exceeds the limit of {limit} bytes"),
                ));
            }
            Ok(out)
        }
        other => Err(text(StatusCode::BAD_REQUEST, format!("Content-Encoding {other:?} not supported"))),
    }
}

pub(crate) async fn push(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let resp = handle_push(&s, &headers, body).await;
    s.telemetry.request("loki_push", resp.status().as_u16());
    resp
}

async fn handle_push(s: &Arc<AppState>, headers: &HeaderMap, body: Bytes) -> Response {
    let tenant = match s.tenant(headers) {
        Ok(t) => t,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let logs = match s.logs() {
        Ok(l) => l.clone(),
        Err(e) => return e.into_response(),
    };
    let limit = s.limits.max_decompressed_bytes;
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_string();
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media.is_empty() {
        return text(StatusCode::BAD_REQUEST, "mime: no media type");
    }
    let raw = match decode_encoding(headers, body, limit) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let decoded = if media == "application/json" {
        loki_push::decode_json(&raw)
    } else {
        loki_push::decode_protobuf(&raw, limit)
    };
    let mut push = match decoded {
        Ok(p) => p,
        Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let now = crate::now_ms() * 1_000_000;
    let refused = seer_logstore::validate(&mut push.streams, &s.log_limits, now);
    let mut errors = push.invalid.clone();
    errors.extend(refused.messages.iter().cloned());
    let lines = match s.log_rate.admit(tenant.as_str(), &push.streams) {
        Ok(lines) => lines,
        Err(m) => {
            let lines: usize = push.streams.iter().map(|st| st.entries.len()).sum();
            s.telemetry.samples("loki_push", lines as u64, 0);
            return text(StatusCode::TOO_MANY_REQUESTS, m);
        }
    };
    let streams = push.streams;
    let t2 = tenant.clone();
    let res = tokio::task::spawn_blocking(move || -> Result<seer_logstore::PushOutcome, seer_logstore::Error> {
        if streams.is_empty() {
            return Ok(seer_logstore::PushOutcome::default());
        }
        logs.get_or_create(&t2)?.push(&streams)
    })
    .await;
    let out = match res {
        Ok(Ok(o)) => o,
        Ok(Err(e @ seer_logstore::Error::Overloaded { .. })) => {
            return text(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
        }
        Ok(Err(e)) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, format!("push task failed: {e}")),
    };
    let received = lines + push.invalid_entries + refused.entries;
    s.telemetry.samples("loki_push", received as u64, out.accepted as u64);
    if !errors.is_empty() {
        let all = seer_logstore::Refused { messages: errors, entries: 0 };
        return text(StatusCode::BAD_REQUEST, all.joined());
    }
    if !out.stream_limit.is_empty() {
        return text(StatusCode::TOO_MANY_REQUESTS, out.stream_limit.join("\n"));
    }
    if !out.too_far_behind.is_empty() {
        let mut m = out.too_far_behind.join("\n");
        m.push_str(&format!(
            "\nuser '{}', total ignored: {} out of {}",
            tenant.as_str(),
            out.too_far_behind.len(),
            out.too_far_behind.len() + out.accepted + out.duplicates
        ));
        return text(StatusCode::BAD_REQUEST, m);
    }
    StatusCode::NO_CONTENT.into_response()
}

// ---------------------------------------------------------------------------------------
// Query side: /loki/api/v1/{query,query_range,labels,label/<n>/values,series,index/stats,
// format_query,detected_labels}. Errors are plain text with Loki's status codes.

use crate::prometheus::Params;
use axum::extract::{Path, RawQuery};
use seer_logql::engine::{self, Direction, EvalError, QueryParams, QueryResult};
use seer_model::{Labels, Matcher};

/// Default and largest `limit` of a log query (Loki's `max_entries_limit_per_query`).
const DEFAULT_LIMIT: usize = 100;
const MAX_ENTRIES: usize = 5000;
/// Loki's `max_query_series`.
const MAX_SERIES: usize = 500;

fn bad(msg: impl Into<String>) -> Response {
    text(StatusCode::BAD_REQUEST, msg)
}

fn params(q: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Result<Params, Response> {
    Params::parse(q, headers, body).map_err(|e| bad(e.msg))
}

/// A Loki timestamp: RFC 3339, a float (seconds if the integer part is at most 1e10, else
/// nanoseconds) or an integer (same rule). Returns Unix nanoseconds.
pub(crate) fn parse_loki_time(v: &str) -> Result<i64, String> {
    if let Some(ns) = crate::timeparam::parse_rfc3339_ns(v) {
        return Ok(ns);
    }
    if v.contains('.') {
        let f: f64 = v.parse().map_err(|_| format!("cannot parse {v:?} to a valid timestamp"))?;
        if !f.is_finite() {
            return Err("floating point timestamp is NaN or Inf".into());
        }
        let int = f.trunc();
        if int.abs() <= 1e10 {
            return Ok((int as i64) * 1_000_000_000 + ((f - int) * 1000.0).round() as i64 * 1_000_000);
        }
        return Ok(int as i64);
    }
    let n: i64 = v.parse().map_err(|_| format!("cannot parse {v:?} to a valid timestamp"))?;
    Ok(if n.unsigned_abs() <= 10_000_000_000 { n.saturating_mul(1_000_000_000) } else { n })
}

fn time_param(p: &Params, k: &str, default: i64) -> Result<i64, Response> {
    match p.get(k) {
        None => Ok(default),
        Some(v) => parse_loki_time(v).map_err(|e| bad(format!("could not parse '{k}' parameter: {e}"))),
    }
}

/// `start`/`end` with Loki's defaults: end = now, start = end - since (1h).
fn range_params(p: &Params) -> Result<(i64, i64), Response> {
    let now = crate::now_ms() * 1_000_000;
    let end = time_param(p, "end", now)?;
    let since = match p.get("since") {
        None => 3_600_000_000_000,
        Some(v) => seer_model::parse_duration_ms(v)
            .ok_or_else(|| bad(format!("could not parse 'since' parameter: cannot parse {v:?} to a valid duration")))?
            .saturating_mul(1_000_000),
    };
    let start = time_param(p, "start", end.min(now) - since)?;
    if end < start {
        return Err(bad("end timestamp must not be before or equal to start time"));
    }
    Ok((start, end))
}

fn duration_param(v: &str) -> Option<i64> {
    if let Ok(f) = v.parse::<f64>() {
        return f.is_finite().then_some((f * 1e9) as i64);
    }
    seer_model::parse_duration_ms(v).map(|ms| ms.saturating_mul(1_000_000))
}

fn deadline(s: &AppState) -> Option<std::time::Instant> {
    Some(std::time::Instant::now() + s.limits.query.timeout)
}

fn eval_error(e: EvalError) -> Response {
    match e {
        EvalError::Timeout(_) => text(
            StatusCode::GATEWAY_TIMEOUT,
            "request timed out, decrease the duration of the request or add more label matchers (prefer exact match \
             over regex match) to reduce the amount of data processed",
        ),
        EvalError::Storage(m) => text(StatusCode::INTERNAL_SERVER_ERROR, m),
        EvalError::BadData(m) | EvalError::Execution(m) | EvalError::Limit(m) => bad(m),
    }
}

/// Seconds with up to millisecond precision, as a JSON number.
fn secs(ns: i64) -> String {
    let ms = ns.div_euclid(1_000_000);
    if ms % 1000 == 0 {
        format!("{}", ms / 1000)
    } else {
        format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
    }
}

fn stats_json(st: &engine::Stats, exec_secs: f64) -> String {
    let cache = r#"{"entriesFound":0,"entriesRequested":0,"entriesStored":0,"bytesReceived":0,"bytesSent":0,"requests":0,"downloadTime":0,"queryLengthServed":0}"#;
    let store = format!(
        r#"{{"totalChunksRef":0,"totalChunksDownloaded":0,"chunksDownloadTime":0,"queryReferencedStructuredMetadata":false,"chunk":{{"headChunkBytes":0,"headChunkLines":0,"decompressedBytes":{b},"decompressedLines":{l},"compressedBytes":0,"totalDuplicates":0,"postFilterLines":{r},"headChunkStructuredMetadataBytes":0,"decompressedStructuredMetadataBytes":0}},"chunkRefsFetchTime":0,"congestionControlLatency":0,"pipelineWrapperFilteredLines":0}}"#,
        b = st.bytes_scanned,
        l = st.entries_scanned,
        r = st.entries_returned
    );
    let per = |x: u64| if exec_secs > 0.0 { (x as f64 / exec_secs) as u64 } else { 0 };
    format!(
        r#"{{"summary":{{"bytesProcessedPerSecond":{},"linesProcessedPerSecond":{},"totalBytesProcessed":{},"totalLinesProcessed":{},"execTime":{},"queueTime":0,"subqueries":0,"totalEntriesReturned":{},"splits":0,"shards":0,"totalPostFilterLines":{},"totalStructuredMetadataBytesProcessed":0}},"querier":{{"store":{store}}},"ingester":{{"totalReached":0,"totalChunksMatched":0,"totalBatches":0,"totalLinesSent":0,"store":{store}}},"cache":{{"chunk":{cache},"index":{cache},"result":{cache},"statsResult":{cache},"volumeResult":{cache},"seriesResult":{cache},"labelResult":{cache},"instantMetricResult":{cache}}},"index":{{"totalChunks":0,"postFilterChunks":0,"shardsDuration":0,"usedBloomFilters":false}}}}"#,
        per(st.bytes_scanned),
        per(st.entries_scanned),
        st.bytes_scanned,
        st.entries_scanned,
        exec_secs,
        st.entries_returned,
        st.entries_returned
    )
}

/// `[{"stream":{..},"values":[["<ns>","<line>"],..]},..]`
fn write_streams(out: &mut String, streams: &[engine::StreamResult]) {
    out.push('[');
    for (i, s) in streams.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"stream":"#);
        crate::query::write_labels(out, &s.labels);
        out.push_str(r#","values":["#);
        for (j, (ts, line)) in s.entries.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(&format!("[\"{ts}\","));
            crate::query::json_str(out, line);
            out.push(']');
        }
        out.push_str("]}");
    }
    out.push(']');
}

fn result_json(r: &QueryResult, at_ns: i64, st: &engine::Stats, exec_secs: f64) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str(r#"{"status":"success","data":{"resultType":"#);
    match r {
        QueryResult::Streams(streams) => {
            out.push_str(r#""streams","result":"#);
            write_streams(&mut out, streams);
        }
        QueryResult::Vector(v) => {
            out.push_str(r#""vector","result":["#);
            for (i, (l, x)) in v.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                crate::query::write_labels(&mut out, l);
                out.push_str(&format!(",\"value\":[{},\"{}\"]}}", secs(at_ns), seer_model::go_format_f(*x)));
            }
            out.push(']');
        }
        QueryResult::Matrix(m) => {
            out.push_str(r#""matrix","result":["#);
            for (i, s) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                crate::query::write_labels(&mut out, &s.labels);
                out.push_str(r#","values":["#);
                for (j, (t, x)) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    out.push_str(&format!("[{},\"{}\"]", secs(*t), seer_model::go_format_f(*x)));
                }
                out.push_str("]}");
            }
            out.push(']');
        }
        QueryResult::Scalar(x) => {
            out.push_str(&format!(r#""scalar","result":[{},"{}"]"#, secs(at_ns), seer_model::go_format_f(*x)));
        }
    }
    out.push_str(r#","stats":"#);
    out.push_str(&stats_json(st, exec_secs));
    out.push_str("}}\n");
    out
}

fn json_response(body: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], body).into_response()
}

async fn run_query(
    s: &Arc<AppState>,
    headers: &HeaderMap,
    query: &str,
    mut qp: QueryParams,
    instant: bool,
) -> Result<Response, Response> {
    let expr = seer_logql::parse(query).map_err(|e| bad(e.to_string()))?;
    if instant && matches!(expr, seer_logql::Expr::Log(_)) {
        return Err(bad(
            "log queries are not supported as an instant query type, please change your query to a range query type",
        ));
    }
    let tenant = s.tenant(headers).map_err(bad)?;
    let logs = s.logs().map_err(|e| e.into_response())?.clone();
    qp.deadline = deadline(s);
    let at = qp.end_ns;
    let _slot = s.query_slots.acquire().await.map_err(|_| text(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
    let started = std::time::Instant::now();
    let res = tokio::task::spawn_blocking(move || {
        let empty = EmptyLogs;
        match logs.get(&tenant) {
            Some(db) => engine::execute(&*db, &expr, &qp),
            None => engine::execute(&empty, &expr, &qp),
        }
    })
    .await
    .map_err(|e| text(StatusCode::INTERNAL_SERVER_ERROR, format!("query task failed: {e}")))?;
    let (r, st) = res.map_err(eval_error)?;
    Ok(json_response(result_json(&r, at, &st, started.elapsed().as_secs_f64())))
}

/// The log source of a tenant without logs.
struct EmptyLogs;

impl seer_model::LogQueryable for EmptyLogs {
    fn scan_entries(
        &self,
        _: &[Matcher],
        _: i64,
        _: i64,
        _: &mut seer_model::EntryFn<'_>,
    ) -> Result<(), seer_model::StorageError> {
        Ok(())
    }
}

fn limit_param(p: &Params) -> Result<usize, Response> {
    match p.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => {
            let n: i64 = v.parse().map_err(|_| bad(format!("strconv.ParseInt: parsing {v:?}: invalid syntax")))?;
            if n <= 0 {
                return Err(bad("limit must be a positive value"));
            }
            if n as usize > MAX_ENTRIES {
                return Err(bad(format!(
                    "max entries limit per query exceeded, limit > max_entries_limit_per_query ({n} > {MAX_ENTRIES})"
                )));
            }
            Ok(n as usize)
        }
    }
}

fn direction_param(p: &Params) -> Result<Direction, Response> {
    match p.get("direction").map(|d| d.to_ascii_lowercase()) {
        None => Ok(Direction::Backward),
        Some(d) if d == "backward" => Ok(Direction::Backward),
        Some(d) if d == "forward" => Ok(Direction::Forward),
        Some(d) => Err(bad(format!("invalid direction '{d}'"))),
    }
}

pub(crate) async fn query(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = async {
        let p = params(q.as_deref(), &headers, &body)?;
        let query = p.get("query").unwrap_or("").to_string();
        let now = crate::now_ms() * 1_000_000;
        let t = time_param(&p, "time", now)?;
        let qp = QueryParams {
            start_ns: t,
            end_ns: t,
            step_ns: 0,
            interval_ns: 0,
            limit: limit_param(&p)?,
            direction: direction_param(&p)?,
            deadline: None,
            max_series: MAX_SERIES,
        };
        run_query(&s, &headers, &query, qp, true).await
    }
    .await;
    let resp = r.unwrap_or_else(|e| e);
    s.telemetry.request("loki_query", resp.status().as_u16());
    resp
}

pub(crate) async fn query_range(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = async {
        let p = params(q.as_deref(), &headers, &body)?;
        let query = p.get("query").unwrap_or("").to_string();
        let (start, end) = range_params(&p)?;
        let step = match p.get("step") {
            None => ((end - start) / 1_000_000_000 / 250).max(1) * 1_000_000_000,
            Some(v) => duration_param(v).ok_or_else(|| bad(format!("cannot parse {v:?} to a valid duration")))?,
        };
        if step <= 0 {
            return Err(bad("zero or negative query resolution step widths are not accepted. Try a positive integer"));
        }
        if (end - start) / step > 11_000 {
            return Err(bad(
                "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step \
                 parameter",
            ));
        }
        let interval = match p.get("interval") {
            None => 0,
            Some(v) => {
                let i = duration_param(v).ok_or_else(|| bad(format!("cannot parse {v:?} to a valid duration")))?;
                if i < 0 {
                    return Err(bad("interval must be >= 0"));
                }
                i
            }
        };
        let qp = QueryParams {
            start_ns: start,
            end_ns: end,
            step_ns: step,
            interval_ns: interval,
            limit: limit_param(&p)?,
            direction: direction_param(&p)?,
            deadline: None,
            max_series: MAX_SERIES,
        };
        run_query(&s, &headers, &query, qp, false).await
    }
    .await;
    let resp = r.unwrap_or_else(|e| e);
    s.telemetry.request("loki_query_range", resp.status().as_u16());
    resp
}

/// Matchers of an optional selector parameter (`query` or `match[]`).
fn selector(q: &str) -> Result<Vec<Matcher>, Response> {
    match seer_logql::parse(q).map_err(|e| bad(e.to_string()))? {
        seer_logql::Expr::Log(l) => Ok(l.matchers),
        seer_logql::Expr::Metric(_) => Err(bad(format!("only a stream selector is allowed here, got {q:?}"))),
    }
}

/// Which parameter holds the selectors of a stream-metadata request.
enum Selectors {
    /// An optional `query` (labels, label values, detected labels).
    OptionalQuery,
    /// A required `query` (index stats).
    Query,
    /// Any number of `match[]` (series).
    Match,
}

/// The streams a metadata request is about: its parameters, tenant, time range and selectors.
async fn streams_of(
    s: &Arc<AppState>,
    q: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    which: Selectors,
) -> Result<Vec<seer_logstore::StreamInfo>, Response> {
    let p = params(q, headers, body)?;
    let selectors = match which {
        Selectors::OptionalQuery => p.get("query").map(selector).into_iter().collect::<Result<Vec<_>, _>>()?,
        Selectors::Query => vec![selector(p.get("query").unwrap_or(""))?],
        Selectors::Match => {
            p.all("match[]").iter().chain(p.all("match").iter()).map(|m| selector(m)).collect::<Result<Vec<_>, _>>()?
        }
    };
    let tenant = s.tenant(headers).map_err(bad)?;
    let (start, end) = range_params(&p)?;
    let logs = s.logs().map_err(|e| e.into_response())?.clone();
    let Some(db) = logs.get(&tenant) else { return Ok(Vec::new()) };
    tokio::task::spawn_blocking(move || {
        let sets = if selectors.is_empty() { vec![Vec::new()] } else { selectors };
        let mut all: std::collections::BTreeMap<Labels, seer_logstore::StreamInfo> = Default::default();
        for m in &sets {
            for st in db.streams(m, start, end) {
                all.entry(st.labels.clone()).or_insert(st);
            }
        }
        all.into_values().collect()
    })
    .await
    .map_err(|e| text(StatusCode::INTERNAL_SERVER_ERROR, format!("task failed: {e}")))
}

fn string_list(items: &[String]) -> Response {
    if items.is_empty() {
        return json_response("{\"status\":\"success\"}\n".into());
    }
    let mut out = String::from("{\"status\":\"success\",\"data\":[");
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        crate::query::json_str(&mut out, v);
    }
    out.push_str("]}\n");
    json_response(out)
}

pub(crate) async fn labels(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let streams = match streams_of(&s, q.as_deref(), &headers, &body, Selectors::OptionalQuery).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    let names: std::collections::BTreeSet<String> =
        streams.iter().flat_map(|st| st.labels.iter().map(|l| l.name.clone())).collect();
    string_list(&names.into_iter().collect::<Vec<_>>())
}

pub(crate) async fn label_values(
    State(s): State<Arc<AppState>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let streams = match streams_of(&s, q.as_deref(), &headers, &body, Selectors::OptionalQuery).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    let values: std::collections::BTreeSet<String> =
        streams.iter().filter_map(|st| st.labels.get(&name).map(str::to_string)).collect();
    string_list(&values.into_iter().collect::<Vec<_>>())
}

pub(crate) async fn series(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let streams = match streams_of(&s, q.as_deref(), &headers, &body, Selectors::Match).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    let mut out = String::from("{\"status\":\"success\",\"data\":[");
    for (i, st) in streams.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        crate::query::write_labels(&mut out, &st.labels);
    }
    out.push_str("]}\n");
    json_response(out)
}

pub(crate) async fn index_stats(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let streams = match streams_of(&s, q.as_deref(), &headers, &body, Selectors::Query).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    let (chunks, bytes, entries) =
        streams.iter().fold((0u64, 0u64, 0u64), |a, st| (a.0 + st.chunks, a.1 + st.bytes, a.2 + st.entries));
    json_response(format!(
        "{{\"streams\":{},\"chunks\":{chunks},\"bytes\":{bytes},\"entries\":{entries}}}\n",
        streams.len()
    ))
}

pub(crate) async fn detected_labels(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let streams = match streams_of(&s, q.as_deref(), &headers, &body, Selectors::OptionalQuery).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    let mut card: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    for st in &streams {
        for l in st.labels.iter() {
            card.entry(l.name.clone()).or_default().insert(l.value.clone());
        }
    }
    let mut out = String::from("{\"detectedLabels\":[");
    for (i, (name, vals)) in card.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"label\":");
        crate::query::json_str(&mut out, name);
        out.push_str(&format!(",\"cardinality\":{}}}", vals.len()));
    }
    out.push_str("]}\n");
    json_response(out)
}

pub(crate) async fn format_query(RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let r = (|| {
        let p = params(q.as_deref(), &headers, &body)?;
        let expr = seer_logql::parse(p.get("query").unwrap_or("")).map_err(|e| bad(e.to_string()))?;
        let mut out = String::from("{\"status\":\"success\",\"data\":");
        crate::query::json_str(&mut out, &expr.to_string());
        out.push_str("}\n");
        Ok::<_, Response>(json_response(out))
    })();
    r.unwrap_or_else(|e| e)
}

pub(crate) async fn buildinfo() -> Response {
    json_response(format!(
        "{{\"version\":\"{}\",\"revision\":\"\",\"branch\":\"main\",\"buildDate\":\"\",\"buildUser\":\"\",\"goVersion\":\"\"}}\n",
        env!("CARGO_PKG_VERSION")
    ))
}

// ---------------------------------------------------------------------------------------
// Live tail: GET /loki/api/v1/tail (WebSocket).

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};

/// Live tails open at once per tenant (Loki's `max_concurrent_tail_requests`).
const MAX_TAILS_PER_TENANT: usize = 10;

/// Counts a tenant's open tails; the slot is given back on drop.
struct TailSlot(Arc<AppState>, String);

impl Drop for TailSlot {
    fn drop(&mut self) {
        let mut m = self.0.tails.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.1) {
            *n = n.saturating_sub(1);
        }
    }
}

pub(crate) async fn tail(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let r = (|| {
        let p = params(q.as_deref(), &headers, &[])?;
        let expr = seer_logql::parse(p.get("query").unwrap_or("")).map_err(|e| bad(e.to_string()))?;
        if !matches!(expr, seer_logql::Expr::Log(_)) {
            return Err(bad("only log queries can be tailed"));
        }
        let limit = limit_param(&p)?;
        let delay = match p.get("delay_for") {
            None => 0,
            Some(v) => {
                let d: i64 = v.parse().map_err(|_| bad(format!("cannot parse {v:?} as delay_for")))?;
                if d > 5 {
                    return Err(bad("delay_for can't be greater than 5"));
                }
                d.max(0) * 1_000_000_000
            }
        };
        let now = crate::now_ms() * 1_000_000;
        let start = time_param(&p, "start", now - 3_600_000_000_000)?;
        let tenant = s.tenant(&headers).map_err(bad)?;
        let logs = s.logs().map_err(|e| e.into_response())?.clone();
        {
            let mut m = s.tails.lock().unwrap_or_else(|e| e.into_inner());
            let n = m.entry(tenant.as_str().to_string()).or_insert(0);
            if *n >= MAX_TAILS_PER_TENANT {
                return Err(text(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("max concurrent tail requests limit exceeded, count > limit ({MAX_TAILS_PER_TENANT})"),
                ));
            }
            *n += 1;
        }
        let slot = TailSlot(s.clone(), tenant.as_str().to_string());
        Ok((expr, limit, delay, start, tenant, logs, slot))
    })();
    match r {
        Err(resp) => resp,
        Ok((expr, limit, delay, start, tenant, logs, slot)) => ws.on_upgrade(move |socket| async move {
            tail_loop(socket, expr, limit, delay, start, tenant, logs).await;
            drop(slot);
        }),
    }
}

/// Polls the store once a second for entries newer than the last one sent and sends them as
/// Loki's tail frames. The first frame holds the newest `limit` entries since `start`.
/// Entries that arrive later than newer ones already sent (out of order) are not sent.
async fn tail_loop(
    mut socket: WebSocket,
    expr: seer_logql::Expr,
    limit: usize,
    delay: i64,
    start: i64,
    tenant: seer_model::TenantId,
    logs: Arc<seer_logstore::LogStorage>,
) {
    let expr = Arc::new(expr);
    let mut cursor = start;
    let mut first = true;
    loop {
        let upto = crate::now_ms() * 1_000_000 - delay;
        if upto > cursor {
            let qp = QueryParams {
                start_ns: cursor,
                end_ns: upto,
                step_ns: 0,
                interval_ns: 0,
                limit,
                direction: if first { Direction::Backward } else { Direction::Forward },
                deadline: Some(std::time::Instant::now() + std::time::Duration::from_secs(30)),
                max_series: 0,
            };
            let (logs2, tenant2, expr2) = (logs.clone(), tenant.clone(), expr.clone());
            let res = tokio::task::spawn_blocking(move || match logs2.get(&tenant2) {
                Some(db) => engine::execute(&*db, &expr2, &qp),
                None => engine::execute(&EmptyLogs, &expr2, &qp),
            })
            .await;
            let Ok(Ok((QueryResult::Streams(mut streams), _))) = res else { break };
            let mut newest = None;
            for st in streams.iter_mut() {
                st.entries.sort_by_key(|e| e.0);
                if let Some(&(t, _)) = st.entries.last() {
                    newest = Some(newest.map_or(t, |n: i64| n.max(t)));
                }
            }
            let full = streams.iter().map(|st| st.entries.len()).sum::<usize>() >= limit;
            cursor = if first || !full { upto } else { newest.map_or(upto, |n| n + 1) };
            first = false;
            if !streams.is_empty() {
                let mut frame = String::from(r#"{"streams":"#);
                write_streams(&mut frame, &streams);
                frame.push('}');
                if socket.send(WsMessage::Text(frame.into())).await.is_err() {
                    break;
                }
            }
            if full {
                continue;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            msg = socket.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(WsMessage::Close(_))) => break,
                Some(Ok(_)) => {}
            },
        }
    }
}
