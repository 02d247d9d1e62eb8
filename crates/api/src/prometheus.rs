//! The Prometheus HTTP API: response envelope and errors, and the metadata endpoints
//! (`/api/v1/series`, `/labels`, `/label/<name>/values`, `/metadata`, `/targets`,
//! `/status/buildinfo`, `/admin/tsdb/snapshot`). Shapes and wording follow Prometheus 3.

use crate::selector::parse_match_params;
use crate::timeparam::{MAX_TIME_MS, MIN_TIME_MS, format_rfc3339, parse_time};
use crate::{AppState, NotReady};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seer_model::Labels;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A Prometheus API error: `{"status":"error","errorType":...,"error":...}`.
pub(crate) struct ApiError {
    status: StatusCode,
    kind: &'static str,
    pub(crate) msg: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, kind: &'static str, msg: impl Into<String>) -> ApiError {
        ApiError { status, kind, msg: msg.into() }
    }
    pub(crate) fn bad_data(msg: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, kind: "bad_data", msg: msg.into() }
    }
    pub(crate) fn internal(msg: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, kind: "internal", msg: msg.into() }
    }
    pub(crate) fn execution(msg: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, kind: "execution", msg: msg.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"status": "error", "errorType": self.kind, "error": self.msg});
        (self.status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
    }
}

impl From<NotReady> for ApiError {
    fn from(_: NotReady) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            kind: "unavailable",
            msg: "storage is not ready yet (WAL replay in progress)".into(),
        }
    }
}

/// `{"status":"success","data":...}` with optional warnings.
pub(crate) fn success(data: Value, warnings: Vec<String>) -> Response {
    let mut m = Map::new();
    m.insert("status".into(), Value::String("success".into()));
    m.insert("data".into(), data);
    if !warnings.is_empty() {
        m.insert("warnings".into(), Value::Array(warnings.into_iter().map(Value::String).collect()));
    }
    ([(header::CONTENT_TYPE, "application/json")], Value::Object(m).to_string()).into_response()
}

/// Query string and form body parameters, merged (body first), as Prometheus reads them.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Result<Params, ApiError> {
        let mut out: Vec<(String, String)> = Vec::new();
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if is_form && !body.is_empty() {
            let b: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|e| ApiError::bad_data(format!("error parsing form values: {e}")))?;
            out.extend(b);
        }
        if let Some(q) = query {
            let q: Vec<(String, String)> = serde_urlencoded::from_str(q)
                .map_err(|e| ApiError::bad_data(format!("error parsing form values: {e}")))?;
            out.extend(q);
        }
        Ok(Params(out))
    }

    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    pub(crate) fn all(&self, k: &str) -> Vec<String> {
        self.0.iter().filter(|(n, _)| n == k).map(|(_, v)| v.clone()).collect()
    }

    /// `start`/`end` with Prometheus' defaults and error wording.
    pub(crate) fn time(&self, k: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => parse_time(v)
                .map_err(|e| ApiError::bad_data(format!("invalid parameter {k:?}: invalid time value for '{k}': {e}"))),
        }
    }

    /// `limit`: 0 or absent means no limit.
    pub(crate) fn limit(&self) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(0),
            Some(v) => {
                let n: i64 = v.parse().map_err(|e| {
                    ApiError::bad_data(format!("invalid parameter \"limit\": strconv.Atoi: parsing {v:?}: {e}"))
                })?;
                if n < 0 {
                    return Err(ApiError::bad_data("invalid parameter \"limit\": limit must be non-negative"));
                }
                Ok(n as usize)
            }
        }
    }
}

fn labels_json(l: &Labels) -> Value {
    let mut m = Map::new();
    for p in l {
        m.insert(p.name.clone(), Value::String(p.value.clone()));
    }
    Value::Object(m)
}

fn truncate<T>(v: &mut Vec<T>, limit: usize, warnings: &mut Vec<String>) {
    if limit > 0 && v.len() > limit {
        v.truncate(limit);
        warnings.push("results truncated due to limit".into());
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("query task failed: {e}")))
}

/// Index lookups (series, label names and values) run on the request's own thread: they
/// are index reads, and handing them to the blocking pool cost more than the lookup itself.
/// `block_in_place` lets the runtime move this worker's other tasks elsewhere meanwhile.
async fn lookup<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    Ok(tokio::task::block_in_place(f))
}

pub(crate) async fn series(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &headers, &body)?;
    let tenant = s.tenant(&headers).map_err(ApiError::bad_data)?;
    let matches = p.all("match[]");
    if matches.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let start = p.time("start", MIN_TIME_MS)?;
    let end = p.time("end", MAX_TIME_MS)?;
    let limit = p.limit()?;
    let sets =
        parse_match_params(&matches).map_err(|e| ApiError::bad_data(format!("invalid parameter \"match[]\": {e}")))?;
    let Some(db) = s.storage()?.existing(&tenant) else { return Ok(success(json!([]), vec![])) };
    let all = lookup(move || -> Result<Vec<Labels>, String> {
        let mut set: BTreeSet<Labels> = BTreeSet::new();
        for m in &sets {
            set.extend(db.series(m, start, end).map_err(|e| e.to_string())?);
        }
        Ok(set.into_iter().collect())
    })
    .await?
    .map_err(ApiError::execution)?;
    let mut all = all;
    let mut warnings = Vec::new();
    truncate(&mut all, limit, &mut warnings);
    Ok(success(Value::Array(all.iter().map(labels_json).collect()), warnings))
}

pub(crate) async fn labels(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &headers, &body)?;
    let tenant = s.tenant(&headers).map_err(ApiError::bad_data)?;
    let start = p.time("start", MIN_TIME_MS)?;
    let end = p.time("end", MAX_TIME_MS)?;
    let limit = p.limit()?;
    let sets = parse_match_params(&p.all("match[]")).map_err(ApiError::bad_data)?;
    let Some(db) = s.storage()?.existing(&tenant) else { return Ok(success(json!([]), vec![])) };
    let mut names = lookup(move || -> Result<Vec<String>, String> {
        if sets.is_empty() {
            return db.label_names(&[], start, end).map_err(|e| e.to_string());
        }
        let mut set = BTreeSet::new();
        for m in &sets {
            set.extend(db.label_names(m, start, end).map_err(|e| e.to_string())?);
        }
        Ok(set.into_iter().collect())
    })
    .await?
    .map_err(ApiError::execution)?;
    let mut warnings = Vec::new();
    truncate(&mut names, limit, &mut warnings);
    Ok(success(json!(names), warnings))
}

/// Undoes Prometheus 3's `U__` escaping of label names in URL paths.
fn unescape_name(s: &str) -> String {
    let Some(rest) = s.strip_prefix("U__") else { return s.to_string() };
    let mut out = String::new();
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'_' {
            let ch = rest[i..].chars().next().unwrap_or('_');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        if b.get(i + 1) == Some(&b'_') {
            out.push('_');
            i += 2;
            continue;
        }
        let Some(end) = rest[i + 1..].find('_') else { return s.to_string() };
        let hex = &rest[i + 1..i + 1 + end];
        if hex.is_empty() || hex.len() > 6 {
            return s.to_string();
        }
        match u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
            Some(c) => out.push(c),
            None => return s.to_string(),
        }
        i += end + 2;
    }
    out
}

pub(crate) async fn label_values(
    State(s): State<Arc<AppState>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &headers, &[])?;
    let tenant = s.tenant(&headers).map_err(ApiError::bad_data)?;
    let name = unescape_name(&name);
    if name.is_empty() {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let start = p.time("start", MIN_TIME_MS)?;
    let end = p.time("end", MAX_TIME_MS)?;
    let limit = p.limit()?;
    let sets = parse_match_params(&p.all("match[]")).map_err(ApiError::bad_data)?;
    let Some(db) = s.storage()?.existing(&tenant) else { return Ok(success(json!([]), vec![])) };
    let mut values = lookup(move || -> Result<Vec<String>, String> {
        if sets.is_empty() {
            return db.label_values(&name, &[], start, end).map_err(|e| e.to_string());
        }
        let mut set = BTreeSet::new();
        for m in &sets {
            set.extend(db.label_values(&name, m, start, end).map_err(|e| e.to_string())?);
        }
        Ok(set.into_iter().collect())
    })
    .await?
    .map_err(ApiError::execution)?;
    let mut warnings = Vec::new();
    truncate(&mut values, limit, &mut warnings);
    Ok(success(json!(values), warnings))
}

pub(crate) async fn metadata(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &headers, &[])?;
    let tenant = s.tenant(&headers).map_err(ApiError::bad_data)?;
    let limit: i64 = match p.get("limit") {
        None => -1,
        Some(v) => v.parse().map_err(|_| ApiError::bad_data("limit must be a number"))?,
    };
    let per_metric: i64 = match p.get("limit_per_metric") {
        None => -1,
        Some(v) => v.parse().map_err(|_| ApiError::bad_data("limit_per_metric must be a number"))?,
    };
    let metric = p.get("metric").map(str::to_string);
    let Some(db) = s.storage()?.existing(&tenant) else { return Ok(success(json!({}), vec![])) };
    let md = db.metadata();
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for m in md {
        if metric.as_deref().is_some_and(|x| x != m.metric_family) {
            continue;
        }
        if limit >= 0 && out.len() as i64 >= limit && !out.contains_key(&m.metric_family) {
            continue;
        }
        let e = out.entry(m.metric_family.clone()).or_default();
        if per_metric > 0 && e.len() as i64 >= per_metric {
            continue;
        }
        e.push(json!({"type": m.kind.as_str(), "help": m.help, "unit": m.unit}));
    }
    Ok(success(json!(out), vec![]))
}

pub(crate) async fn targets(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &headers, &[])?;
    let state = p.get("state").unwrap_or("any").to_ascii_lowercase();
    let pool = p.get("scrapePool").map(str::to_string);
    let snap = match s.scrape.get() {
        Some(m) => m.targets().await,
        None => Default::default(),
    };
    let keep_pool = |job: &str| pool.as_deref().is_none_or(|p| p == job);
    let map = |m: &BTreeMap<String, String>| {
        Value::Object(m.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
    };
    let active: Vec<Value> = if state == "active" || state == "any" {
        snap.active
            .iter()
            .filter(|t| keep_pool(&t.target.job))
            .map(|t| {
                json!({
                    "discoveredLabels": map(&t.target.discovered),
                    "labels": labels_json(&t.target.labels),
                    "scrapePool": t.target.job,
                    "scrapeUrl": t.target.url,
                    "globalUrl": t.target.url,
                    "lastError": t.status.last_error,
                    "lastScrape": t.status.last_scrape
                        .map(|x| format_rfc3339(x.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)))
                        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
                    "lastScrapeDuration": t.status.last_scrape_duration,
                    "health": t.status.health,
                    "scrapeInterval": t.target.interval.to_string(),
                    "scrapeTimeout": t.target.timeout.to_string(),
                })
            })
            .collect()
    } else {
        vec![]
    };
    let dropped: Vec<Value> = if state == "dropped" || state == "any" {
        snap.dropped
            .iter()
            .filter(|t| keep_pool(&t.job))
            .map(|t| json!({"discoveredLabels": map(&t.discovered), "scrapePool": t.job}))
            .collect()
    } else {
        vec![]
    };
    Ok(success(
        json!({"activeTargets": active, "droppedTargets": dropped, "droppedTargetCounts": snap.dropped_counts}),
        vec![],
    ))
}

pub(crate) async fn buildinfo() -> Response {
    success(
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "revision": option_env!("SEER_GIT_REVISION").unwrap_or("unknown"),
            "branch": "main",
            "buildUser": "seer",
            "buildDate": "unknown",
            "goVersion": "rust",
        }),
        vec![],
    )
}

pub(crate) async fn snapshot(
    State(s): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref(), &headers, &body)?;
    let skip_head = matches!(p.get("skip_head"), Some("true" | "1"));
    let storage = s.storage()?.clone();
    let name = format!(
        "{}-{:016x}",
        format_rfc3339(crate::now_ms()).replace([':', '-', '.'], ""),
        crate::now_ms() as u64 ^ 0x9e37_79b9_7f4a_7c15
    );
    let dir = s.data_dir.join("snapshots").join(&name);
    let d2 = dir.clone();
    blocking(move || -> Result<(), String> {
        for (tenant, db) in storage.tenants() {
            db.snapshot(&d2.join(tenant.as_str()), skip_head).map_err(|e| e.to_string())?;
        }
        std::fs::create_dir_all(&d2).map_err(|e| e.to_string())
    })
    .await?
    .map_err(|e| ApiError::internal(format!("create snapshot: {e}")))?;
    Ok(success(json!({"name": name}), vec![]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u_escaping() {
        assert_eq!(unescape_name("U__foo_2e_bar"), "foo.bar");
        assert_eq!(unescape_name("U__a__b"), "a_b");
        assert_eq!(unescape_name("U__bad_zz_"), "U__bad_zz_");
        assert_eq!(unescape_name("job"), "job");
    }
}
