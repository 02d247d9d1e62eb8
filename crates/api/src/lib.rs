//! Seer's network edge: one HTTP router for every compatible API (Prometheus remote write
//! and HTTP API, Loki, Tempo, Jaeger, OTLP/HTTP, lifecycle endpoints, Seer's own metrics) and
//! the OTLP gRPC services. One file per compatible API; each maps its errors to the peer's format.
//!
//! Owns: routes, request limits, content negotiation, tenant extraction, and the wording
//! and status codes of responses.
//! Must not: contain query or storage logic (it calls `seer-tsdb`, `seer-ingest` and
//! `seer-agent`), or block the async runtime (storage calls run in `spawn_blocking`).

mod jaeger;
mod lifecycle;
mod loki;
mod otlp;
mod otlp_logs;
mod otlp_traces;
mod prometheus;
mod query;
mod remote_read;
mod remote_write;
pub mod selector;
mod telemetry;
mod tempo;
pub mod timeparam;
mod trace_pipeline;

pub use loki::RateLimiter;
pub use otlp::OtlpMetricsGrpc;
pub use otlp_logs::OtlpLogsGrpc;
pub use otlp_traces::OtlpTracesGrpc;
pub use query::QueryLimits;
pub use telemetry::Telemetry;
pub use trace_pipeline::{ProcessingConfig, TenantProcessing, TracePipeline};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use seer_logstore::LogStorage;
use seer_model::TenantId;
use seer_tracestore::TraceStorage;
use seer_tsdb::Storage;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

/// Request size limits.
#[derive(Clone, Debug)]
pub struct ApiLimits {
    /// Largest request body as received (compressed), bytes.
    pub max_request_bytes: usize,
    /// Largest request body after decompression, bytes.
    pub max_decompressed_bytes: usize,
    /// PromQL query limits.
    pub query: QueryLimits,
    /// Log push limits (Loki's `limits_config`).
    pub logs: seer_logstore::LogLimits,
    /// Log ingestion rate per tenant, bytes per second (0 = unlimited).
    pub log_ingestion_rate: f64,
    /// Log ingestion burst per tenant, bytes.
    pub log_ingestion_burst: f64,
    /// Per-span limits of trace ingestion.
    pub spans: seer_ingest::otlp_traces::SpanLimits,
    /// Trace ingestion rate per tenant, bytes of OTLP per second (0 = unlimited).
    pub trace_ingestion_rate: f64,
    /// Trace ingestion burst per tenant, bytes.
    pub trace_ingestion_burst: f64,
}

impl Default for ApiLimits {
    fn default() -> ApiLimits {
        ApiLimits {
            max_request_bytes: 64 << 20,
            max_decompressed_bytes: 256 << 20,
            query: QueryLimits::default(),
            logs: seer_logstore::LogLimits::default(),
            log_ingestion_rate: 4.0 * 1048576.0,
            log_ingestion_burst: 6.0 * 1048576.0,
            spans: seer_ingest::otlp_traces::SpanLimits::default(),
            trace_ingestion_rate: 15.0 * 1048576.0,
            trace_ingestion_burst: 20.0 * 1048576.0,
        }
    }
}

/// A request to reload the configuration; the answer is the reload's outcome.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// Shared state of all handlers.
pub struct AppState {
    storage: OnceLock<Arc<Storage>>,
    logs: OnceLock<Arc<LogStorage>>,
    traces: OnceLock<Arc<TraceStorage>>,
    /// Sampling, span metrics and service graph of incoming spans.
    pub trace_pipeline: Arc<TracePipeline>,
    /// Per-span limits.
    pub(crate) span_limits: seer_ingest::otlp_traces::SpanLimits,
    /// Per-tenant trace ingestion rate.
    pub(crate) trace_rate: RateLimiter,
    /// Log push limits.
    pub(crate) log_limits: seer_logstore::LogLimits,
    /// Per-tenant log ingestion rate.
    pub(crate) log_rate: RateLimiter,
    /// Open live tails per tenant.
    pub(crate) tails: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    scrape: OnceLock<seer_agent::Manager>,
    /// Size limits.
    pub limits: ApiLimits,
    /// Channel to the process' reload loop.
    pub reload: Option<mpsc::Sender<ReloadRequest>>,
    /// Request and ingest counters.
    pub telemetry: Telemetry,
    /// Data directory (snapshots go below it).
    pub data_dir: PathBuf,
    /// Tenant of requests without `X-Scope-OrgID`.
    pub default_tenant: TenantId,
    /// Bounds the queries evaluated at once.
    pub(crate) query_slots: tokio::sync::Semaphore,
    /// Facts for `/api/v1/status/runtimeinfo`.
    pub runtime: std::sync::Mutex<RuntimeInfo>,
}

/// Process facts shown by `/api/v1/status/runtimeinfo`.
#[derive(Clone, Debug)]
pub struct RuntimeInfo {
    /// Process start (ms).
    pub start_ms: i64,
    /// Whether the last configuration (re)load succeeded.
    pub reload_success: bool,
    /// When the configuration was last loaded successfully (ms).
    pub last_config_ms: i64,
    /// Retention setting as configured (e.g. `15d`).
    pub retention: String,
}

impl AppState {
    /// State for a server that is not ready yet.
    pub fn new(
        limits: ApiLimits,
        data_dir: PathBuf,
        default_tenant: TenantId,
        reload: Option<mpsc::Sender<ReloadRequest>>,
    ) -> AppState {
        let limits_concurrency = limits.query.max_concurrency.max(1);
        AppState {
            storage: OnceLock::new(),
            logs: OnceLock::new(),
            traces: OnceLock::new(),
            trace_pipeline: Arc::new(TracePipeline::pass_through()),
            span_limits: limits.spans.clone(),
            trace_rate: RateLimiter::new(limits.trace_ingestion_rate, limits.trace_ingestion_burst),
            log_limits: limits.logs.clone(),
            log_rate: RateLimiter::new(limits.log_ingestion_rate, limits.log_ingestion_burst),
            tails: std::sync::Mutex::new(std::collections::HashMap::new()),
            scrape: OnceLock::new(),
            limits,
            reload,
            telemetry: Telemetry::default(),
            data_dir,
            default_tenant,
            query_slots: tokio::sync::Semaphore::new(limits_concurrency),
            runtime: std::sync::Mutex::new(RuntimeInfo {
                start_ms: now_ms(),
                reload_success: true,
                last_config_ms: now_ms(),
                retention: String::new(),
            }),
        }
    }

    /// Marks the server ready: storage is open.
    pub fn set_storage(&self, s: Arc<Storage>) {
        let _ = self.storage.set(s);
    }

    /// Attaches the log store (before `set_storage`, which marks the server ready).
    pub fn set_logs(&self, l: Arc<LogStorage>) {
        let _ = self.logs.set(l);
    }

    pub(crate) fn logs(&self) -> Result<&Arc<LogStorage>, NotReady> {
        self.logs.get().ok_or(NotReady)
    }

    /// Attaches the trace store (before `set_storage`, which marks the server ready).
    pub fn set_traces(&self, t: Arc<TraceStorage>) {
        let _ = self.traces.set(t);
    }

    pub(crate) fn traces(&self) -> Result<&Arc<TraceStorage>, NotReady> {
        self.traces.get().ok_or(NotReady)
    }

    /// Attaches the scrape manager (for the targets API).
    pub fn set_scrape_manager(&self, m: seer_agent::Manager) {
        let _ = self.scrape.set(m);
    }

    /// True once storage is open.
    pub fn is_ready(&self) -> bool {
        self.storage.get().is_some()
    }

    pub(crate) fn storage(&self) -> Result<&Arc<Storage>, NotReady> {
        self.storage.get().ok_or(NotReady)
    }

    /// The tenant a request is for, from `X-Scope-OrgID`.
    pub(crate) fn tenant(&self, headers: &HeaderMap) -> Result<TenantId, String> {
        match headers.get("x-scope-orgid") {
            None => Ok(self.default_tenant.clone()),
            Some(v) => {
                let s = v.to_str().map_err(|_| "X-Scope-OrgID is not valid ASCII".to_string())?;
                TenantId::new(s.trim()).map_err(|e| format!("invalid X-Scope-OrgID: {e}"))
            }
        }
    }
}

/// Storage is still opening (WAL replay).
pub(crate) struct NotReady;

impl IntoResponse for NotReady {
    fn into_response(self) -> Response {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
    }
}

/// Builds the HTTP router.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.limits.max_request_bytes;
    Router::new()
        .route("/-/healthy", get(lifecycle::healthy).head(lifecycle::healthy))
        .route("/-/ready", get(lifecycle::ready).head(lifecycle::ready))
        .route("/-/reload", post(lifecycle::reload).put(lifecycle::reload).get(lifecycle::reload_wrong_method))
        .route("/metrics", get(telemetry::handler))
        .route("/api/v1/write", post(remote_write::handler))
        .route("/loki/api/v1/push", post(loki::push))
        .route("/loki/api/v1/query", get(loki::query).post(loki::query))
        .route("/loki/api/v1/query_range", get(loki::query_range).post(loki::query_range))
        .route("/loki/api/v1/labels", get(loki::labels).post(loki::labels))
        .route("/loki/api/v1/label/{name}/values", get(loki::label_values).post(loki::label_values))
        .route("/loki/api/v1/series", get(loki::series).post(loki::series))
        .route("/loki/api/v1/index/stats", get(loki::index_stats).post(loki::index_stats))
        .route("/loki/api/v1/detected_labels", get(loki::detected_labels))
        .route("/loki/api/v1/format_query", get(loki::format_query).post(loki::format_query))
        .route("/loki/api/v1/status/buildinfo", get(loki::buildinfo))
        .route("/loki/api/v1/tail", get(loki::tail))
        .route("/v1/traces", post(otlp_traces::http_traces))
        .route("/api/traces/{id}", get(tempo::trace_v1))
        .route("/api/v2/traces/{id}", get(tempo::trace_v2))
        .route("/api/search", get(tempo::search))
        .route("/api/search/tags", get(tempo::tags_v1))
        .route("/api/v2/search/tags", get(tempo::tags_v2))
        .route("/api/search/tag/{tag}/values", get(tempo::tag_values_v1))
        .route("/api/v2/search/tag/{tag}/values", get(tempo::tag_values_v2))
        .route("/api/metrics/query_range", get(tempo::metrics_query_range))
        .route("/api/metrics/query", get(tempo::metrics_query))
        .route("/api/echo", get(tempo::echo))
        .route("/api/status/buildinfo", get(tempo::buildinfo))
        .route("/jaeger/api/services", get(jaeger::services))
        .route("/jaeger/api/services/{service}/operations", get(jaeger::service_operations))
        .route("/jaeger/api/operations", get(jaeger::operations))
        .route("/jaeger/api/traces", get(jaeger::search))
        .route("/jaeger/api/traces/{id}", get(jaeger::trace))
        .route("/jaeger/api/dependencies", get(jaeger::dependencies))
        .route("/api/v1/read", post(remote_read::handler))
        .route("/v1/metrics", post(otlp::http_metrics))
        .route("/v1/logs", post(otlp_logs::http_logs))
        .route("/otlp/v1/logs", post(otlp_logs::http_logs))
        .route("/api/v1/otlp/v1/metrics", post(otlp::http_metrics))
        .route("/api/v1/series", get(prometheus::series).post(prometheus::series))
        .route("/api/v1/labels", get(prometheus::labels).post(prometheus::labels))
        .route("/api/v1/label/{name}/values", get(prometheus::label_values))
        .route("/api/v1/metadata", get(prometheus::metadata))
        .route("/api/v1/targets", get(prometheus::targets))
        .route("/api/v1/status/buildinfo", get(prometheus::buildinfo))
        .route("/api/v1/status/runtimeinfo", get(query::runtimeinfo))
        .route("/api/v1/status/tsdb", get(query::tsdb_status))
        .route("/api/v1/query", get(query::instant).post(query::instant))
        .route("/api/v1/query_range", get(query::range).post(query::range))
        .route("/api/v1/query_exemplars", get(query::exemplars).post(query::exemplars))
        .route("/api/v1/format_query", get(query::format_query).post(query::format_query))
        .route("/api/v1/parse_query", get(query::parse_query).post(query::parse_query))
        .route("/api/v1/admin/tsdb/snapshot", post(prometheus::snapshot).put(prometheus::snapshot))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Parses a query string as the Tempo search and the Jaeger search handlers do (for the
/// fuzz target `trace_params`): every input must give parameters or a 400, never a panic.
/// Returns whether each parse succeeded.
pub fn parse_trace_search_params(raw: &str) -> (bool, bool) {
    let p = tempo::params(&Some(raw.to_string()));
    (tempo::parse_search(&p).is_ok(), jaeger::parse_query(&p).is_ok())
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
