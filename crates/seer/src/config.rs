//! The configuration file: Prometheus' `global` and `scrape_configs` sections as they are,
//! plus Seer's own `storage`, `limits`, `tenancy` and `server` sections. Every section and
//! default is described in `docs/configuration.md`.

use anyhow::{Context, Result, bail};
use seer_agent::config::{GlobalConfig, Job, ScrapeConfig, resolve_jobs};
use seer_agent::duration::{ByteSize, PromDuration};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole file.
#[derive(Clone, Debug, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Prometheus `global:`.
    #[serde(default)]
    pub global: GlobalConfig,
    /// Prometheus `scrape_configs:`.
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Storage settings.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Ingest limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Tenancy.
    #[serde(default)]
    pub tenancy: TenancyConfig,
    /// PromQL query limits.
    #[serde(default)]
    pub query: QueryConfig,
    /// Log store: retention and Loki's push limits.
    #[serde(default)]
    pub logs: LogsConfig,
    /// Trace store: retention, limits, sampling, span metrics and service graphs.
    #[serde(default)]
    pub traces: TracesConfig,
    /// Listen addresses and data directory (command-line flags win).
    #[serde(default)]
    pub server: ServerConfig,
    /// Prometheus sections that Seer does not implement yet; accepted so that a
    /// `prometheus.yml` loads, and reported at start-up.
    #[serde(default)]
    pub rule_files: Option<serde_yaml::Value>,
    /// See `rule_files`.
    #[serde(default)]
    pub alerting: Option<serde_yaml::Value>,
    /// See `rule_files`.
    #[serde(default)]
    pub remote_write: Option<serde_yaml::Value>,
    /// See `rule_files`.
    #[serde(default)]
    pub remote_read: Option<serde_yaml::Value>,
}

/// `storage:`.
#[derive(Clone, Debug, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// `storage.tsdb`.
    #[serde(default)]
    pub tsdb: TsdbConfig,
    /// `storage.exemplars`.
    #[serde(default)]
    pub exemplars: ExemplarsConfig,
}

/// `storage.tsdb:`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TsdbConfig {
    /// Delete blocks older than this (15d; `0s` keeps everything).
    #[serde(default = "default_retention")]
    pub retention_time: PromDuration,
    /// Delete oldest blocks while blocks + WAL exceed this (`0` = no limit).
    #[serde(default)]
    pub retention_size: ByteSize,
    /// Accept samples this much older than the newest one (0s = refuse out-of-order).
    #[serde(default)]
    pub out_of_order_time_window: PromDuration,
    /// Block range (2h).
    #[serde(default = "default_block_range")]
    pub block_range: PromDuration,
    /// `always`, `interval` or `never`.
    #[serde(default = "default_fsync")]
    pub wal_fsync: String,
    /// Interval for `interval` (1s).
    #[serde(default = "default_fsync_interval")]
    pub wal_fsync_interval: PromDuration,
    /// Snappy-compress WAL records (true).
    #[serde(default = "default_true")]
    pub wal_compression: bool,
}

fn default_retention() -> PromDuration {
    PromDuration(Duration::from_secs(15 * 86_400))
}
fn default_block_range() -> PromDuration {
    PromDuration(Duration::from_secs(2 * 3600))
}
fn default_fsync() -> String {
    "interval".into()
}
fn default_fsync_interval() -> PromDuration {
    PromDuration(Duration::from_secs(1))
}
fn default_true() -> bool {
    true
}

impl Default for TsdbConfig {
    fn default() -> TsdbConfig {
        TsdbConfig {
            retention_time: default_retention(),
            retention_size: ByteSize(0),
            out_of_order_time_window: PromDuration::default(),
            block_range: default_block_range(),
            wal_fsync: default_fsync(),
            wal_fsync_interval: default_fsync_interval(),
            wal_compression: true,
        }
    }
}

/// `storage.exemplars:`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExemplarsConfig {
    /// Exemplars kept per tenant (100000).
    #[serde(default = "default_exemplars")]
    pub max_exemplars: usize,
}

fn default_exemplars() -> usize {
    100_000
}

impl Default for ExemplarsConfig {
    fn default() -> ExemplarsConfig {
        ExemplarsConfig { max_exemplars: default_exemplars() }
    }
}

/// `limits:`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Most labels per series (64).
    #[serde(default = "d_labels")]
    pub max_label_names_per_series: usize,
    /// Longest label name in bytes (1024).
    #[serde(default = "d_name_len")]
    pub max_label_name_length: usize,
    /// Longest label value in bytes (4096).
    #[serde(default = "d_value_len")]
    pub max_label_value_length: usize,
    /// Most in-memory series per tenant (5000000; 0 = unlimited).
    #[serde(default = "d_series")]
    pub max_series_per_tenant: usize,
    /// Largest request body as sent (64MB).
    #[serde(default = "d_req")]
    pub max_request_size: ByteSize,
    /// Largest request body after decompression (256MB).
    #[serde(default = "d_dec")]
    pub max_decompressed_request_size: ByteSize,
}

fn d_labels() -> usize {
    64
}
fn d_name_len() -> usize {
    1024
}
fn d_value_len() -> usize {
    4096
}
fn d_series() -> usize {
    5_000_000
}
fn d_req() -> ByteSize {
    ByteSize(64 << 20)
}
fn d_dec() -> ByteSize {
    ByteSize(256 << 20)
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            max_label_names_per_series: d_labels(),
            max_label_name_length: d_name_len(),
            max_label_value_length: d_value_len(),
            max_series_per_tenant: d_series(),
            max_request_size: d_req(),
            max_decompressed_request_size: d_dec(),
        }
    }
}

/// `query:`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    /// Longest a query may run (2m).
    #[serde(default = "d_query_timeout")]
    pub timeout: PromDuration,
    /// Most samples a query may hold in memory (50000000).
    #[serde(default = "d_query_samples")]
    pub max_samples: usize,
    /// Most series a query may select (1000000; 0 = unlimited).
    #[serde(default = "d_query_series")]
    pub max_series: usize,
    /// How far back instant selectors look for a sample (5m).
    #[serde(default = "d_lookback")]
    pub lookback_delta: PromDuration,
    /// Queries evaluated at once; further ones wait (4).
    #[serde(default = "d_query_concurrency")]
    pub max_concurrency: usize,
}

fn d_query_timeout() -> PromDuration {
    PromDuration(Duration::from_secs(120))
}
fn d_query_samples() -> usize {
    50_000_000
}
fn d_query_series() -> usize {
    1_000_000
}
fn d_lookback() -> PromDuration {
    PromDuration(Duration::from_secs(300))
}
fn d_query_concurrency() -> usize {
    4
}

impl Default for QueryConfig {
    fn default() -> QueryConfig {
        QueryConfig {
            timeout: d_query_timeout(),
            max_samples: d_query_samples(),
            max_series: d_query_series(),
            lookback_delta: d_lookback(),
            max_concurrency: d_query_concurrency(),
        }
    }
}

impl QueryConfig {
    /// The API's query limits.
    pub fn limits(&self) -> seer_api::QueryLimits {
        seer_api::QueryLimits {
            timeout: self.timeout.0,
            max_samples: self.max_samples,
            max_series: self.max_series,
            lookback_ms: self.lookback_delta.0.as_millis() as i64,
            max_concurrency: self.max_concurrency.max(1),
        }
    }
}

/// `logs:`: retention and Loki's `limits_config` names and defaults.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    /// Delete log blocks older than this (`0s`, the default, keeps everything, as Loki).
    pub retention_period: PromDuration,
    /// Per-tenant ingestion rate in MiB/s (4; 0 = unlimited).
    pub ingestion_rate_mb: f64,
    /// Per-tenant burst in MiB (6).
    pub ingestion_burst_size_mb: f64,
    /// Largest line (256KB; 0 = unlimited).
    pub max_line_size: ByteSize,
    /// Most label names per stream, `service_name` not counted (15).
    pub max_label_names_per_series: usize,
    /// Longest label name (1024).
    pub max_label_name_length: usize,
    /// Longest label value (2048).
    pub max_label_value_length: usize,
    /// Refuse entries older than this (7d; 0s = any age).
    pub reject_old_samples_max_age: PromDuration,
    /// Refuse entries further in the future than this (10m).
    pub creation_grace_period: PromDuration,
    /// Most active streams per tenant (5000; 0 = unlimited).
    pub max_global_streams_per_user: usize,
    /// Largest structured metadata per entry (64KB).
    pub max_structured_metadata_size: ByteSize,
    /// Most structured-metadata pairs per entry (128).
    pub max_structured_metadata_entries_count: usize,
    /// Labels whose value becomes `service_name`, first present wins (Loki's list; `[]` = off).
    pub discover_service_name: Vec<String>,
    /// How far behind its stream's newest entry an entry may be (1h).
    pub out_of_order_window: PromDuration,
}

impl Default for LogsConfig {
    fn default() -> LogsConfig {
        let l = seer_logstore::LogLimits::default();
        LogsConfig {
            retention_period: PromDuration(Duration::ZERO),
            ingestion_rate_mb: 4.0,
            ingestion_burst_size_mb: 6.0,
            max_line_size: ByteSize(l.max_line_size as u64),
            max_label_names_per_series: l.max_label_names_per_series,
            max_label_name_length: l.max_label_name_length,
            max_label_value_length: l.max_label_value_length,
            reject_old_samples_max_age: PromDuration(Duration::from_nanos(l.reject_old_samples_max_age_ns as u64)),
            creation_grace_period: PromDuration(Duration::from_nanos(l.creation_grace_period_ns as u64)),
            max_global_streams_per_user: seer_logstore::Options::default().max_streams,
            max_structured_metadata_size: ByteSize(l.max_structured_metadata_size as u64),
            max_structured_metadata_entries_count: l.max_structured_metadata_entries_count,
            discover_service_name: l.discover_service_name,
            out_of_order_window: PromDuration(Duration::from_secs(3600)),
        }
    }
}

impl LogsConfig {
    /// Push-time limits.
    pub fn limits(&self) -> seer_logstore::LogLimits {
        seer_logstore::LogLimits {
            max_line_size: self.max_line_size.0 as usize,
            max_label_names_per_series: self.max_label_names_per_series,
            max_label_name_length: self.max_label_name_length,
            max_label_value_length: self.max_label_value_length,
            reject_old_samples_max_age_ns: self.reject_old_samples_max_age.0.as_nanos() as i64,
            creation_grace_period_ns: self.creation_grace_period.0.as_nanos() as i64,
            max_structured_metadata_size: self.max_structured_metadata_size.0 as usize,
            max_structured_metadata_entries_count: self.max_structured_metadata_entries_count,
            discover_service_name: self.discover_service_name.clone(),
        }
    }

    /// Store options, with the metrics store's WAL settings.
    pub fn store_options(&self, wal: seer_wal::Options) -> seer_logstore::Options {
        seer_logstore::Options {
            out_of_order_window_ns: self.out_of_order_window.0.as_nanos() as i64,
            max_streams: self.max_global_streams_per_user,
            retention_ns: self.retention_period.0.as_nanos() as i64,
            wal,
            ..seer_logstore::Options::default()
        }
    }
}

/// Sampling, span metrics and service graphs of one tenant (`traces:` and `traces.tenants.<id>:`).
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TraceProcessingConfig {
    /// Head and tail sampling.
    pub sampling: seer_traceproc::sampling::SamplingConfig,
    /// Span metrics into the metrics store.
    pub span_metrics: seer_traceproc::spanmetrics::SpanMetricsConfig,
    /// Service-graph metrics into the metrics store.
    pub service_graphs: seer_traceproc::servicegraph::ServiceGraphConfig,
}

impl TraceProcessingConfig {
    fn to_api(&self) -> seer_api::TenantProcessing {
        seer_api::TenantProcessing {
            sampling: self.sampling.clone(),
            span_metrics: self.span_metrics.clone(),
            service_graph: self.service_graphs.clone(),
        }
    }
}

/// `traces:`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TracesConfig {
    /// Delete trace blocks older than this (14d, as Tempo's `block_retention`; 0s keeps everything).
    pub retention_period: PromDuration,
    /// With tail sampling on, traces older than this keep only the tail policy's survivors (1h).
    pub tail_sampling_after: PromDuration,
    /// Per-tenant ingestion rate in MiB/s of OTLP (15, as Tempo; 0 = unlimited).
    pub ingestion_rate_mb: f64,
    /// Per-tenant burst in MiB (20).
    pub ingestion_burst_size_mb: f64,
    /// Most attributes per span (1024; 0 = unlimited).
    pub max_attributes_per_span: usize,
    /// Longest span name, attribute key or string value (64KB; 0 = unlimited).
    pub max_attribute_bytes: ByteSize,
    /// Largest span (1MB; 0 = unlimited).
    pub max_span_bytes: ByteSize,
    /// Most spans a trace may gather between two block cuts (100000; 0 = unlimited).
    pub max_spans_per_trace: u32,
    /// Head and tail sampling of tenants not listed in `tenants`.
    pub sampling: seer_traceproc::sampling::SamplingConfig,
    /// Span metrics of tenants not listed in `tenants`.
    pub span_metrics: seer_traceproc::spanmetrics::SpanMetricsConfig,
    /// Service graphs of tenants not listed in `tenants`.
    pub service_graphs: seer_traceproc::servicegraph::ServiceGraphConfig,
    /// Per-tenant replacements of `sampling`, `span_metrics` and `service_graphs`.
    pub tenants: std::collections::BTreeMap<String, TraceProcessingConfig>,
}

impl Default for TracesConfig {
    fn default() -> TracesConfig {
        let l = seer_ingest::otlp_traces::SpanLimits::default();
        TracesConfig {
            retention_period: PromDuration(Duration::from_secs(14 * 86_400)),
            tail_sampling_after: PromDuration(Duration::from_secs(3600)),
            ingestion_rate_mb: 15.0,
            ingestion_burst_size_mb: 20.0,
            max_attributes_per_span: l.max_attributes,
            max_attribute_bytes: ByteSize(l.max_attribute_bytes as u64),
            max_span_bytes: ByteSize(l.max_span_bytes as u64),
            max_spans_per_trace: seer_tracestore::Options::default().max_spans_per_trace,
            sampling: Default::default(),
            span_metrics: Default::default(),
            service_graphs: Default::default(),
            tenants: Default::default(),
        }
    }
}

impl TracesConfig {
    /// Per-span limits.
    pub fn span_limits(&self) -> seer_ingest::otlp_traces::SpanLimits {
        seer_ingest::otlp_traces::SpanLimits {
            max_attributes: self.max_attributes_per_span,
            max_attribute_bytes: self.max_attribute_bytes.0 as usize,
            max_span_bytes: self.max_span_bytes.0 as usize,
        }
    }

    /// Store options, with the metrics store's WAL settings.
    pub fn store_options(&self, wal: seer_wal::Options) -> seer_tracestore::Options {
        let tail = self.sampling.tail.enabled || self.tenants.values().any(|t| t.sampling.tail.enabled);
        seer_tracestore::Options {
            retention_ns: self.retention_period.0.as_nanos() as u64,
            long_term_after_ns: if tail { self.tail_sampling_after.0.as_nanos() as u64 } else { 0 },
            max_spans_per_trace: self.max_spans_per_trace,
            wal,
            ..seer_tracestore::Options::default()
        }
    }

    /// Sampling, span metrics and service graphs per tenant.
    pub fn processing(&self) -> seer_api::ProcessingConfig {
        seer_api::ProcessingConfig {
            default: seer_api::TenantProcessing {
                sampling: self.sampling.clone(),
                span_metrics: self.span_metrics.clone(),
                service_graph: self.service_graphs.clone(),
            },
            tenants: self.tenants.iter().map(|(k, v)| (k.clone(), v.to_api())).collect(),
        }
    }
}

/// `tenancy:`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TenancyConfig {
    /// Tenant of requests without `X-Scope-OrgID` (`default`).
    #[serde(default = "d_tenant")]
    pub default_tenant: String,
}

fn d_tenant() -> String {
    seer_model::DEFAULT_TENANT.into()
}

impl Default for TenancyConfig {
    fn default() -> TenancyConfig {
        TenancyConfig { default_tenant: d_tenant() }
    }
}

/// `server:`.
#[derive(Clone, Debug, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Data directory (`./data`).
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// HTTP listen address (`127.0.0.1:9600`).
    #[serde(default)]
    pub http_listen: Option<String>,
    /// OTLP gRPC listen address (`127.0.0.1:4317`).
    #[serde(default)]
    pub grpc_listen: Option<String>,
}

/// A loaded and validated configuration.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The file's content.
    pub config: Config,
    /// Resolved scrape jobs.
    pub jobs: Vec<Job>,
    /// Warnings to log (ignored sections).
    pub warnings: Vec<String>,
}

impl Config {
    /// Storage options for every tenant.
    pub fn tsdb_options(&self) -> Result<seer_tsdb::Options> {
        let t = &self.storage.tsdb;
        let fsync = match t.wal_fsync.as_str() {
            "always" => seer_wal::FsyncPolicy::Always,
            "interval" => seer_wal::FsyncPolicy::Interval(t.wal_fsync_interval.0),
            "never" => seer_wal::FsyncPolicy::Never,
            other => bail!("storage.tsdb.wal_fsync must be always, interval or never, got {other:?}"),
        };
        let range = t.block_range.as_millis();
        if range < 60_000 {
            bail!("storage.tsdb.block_range must be at least 1m, got {}", t.block_range);
        }
        if t.out_of_order_time_window.as_millis() > range / 2 {
            bail!(
                "storage.tsdb.out_of_order_time_window ({}) may be at most half of storage.tsdb.block_range ({})",
                t.out_of_order_time_window,
                t.block_range
            );
        }
        let l = &self.limits;
        Ok(seer_tsdb::Options {
            block_range: range,
            retention_time: t.retention_time.as_millis(),
            retention_size: t.retention_size.0,
            out_of_order_window: t.out_of_order_time_window.as_millis(),
            wal: seer_wal::Options { fsync, compress: t.wal_compression, ..Default::default() },
            limits: seer_model::Limits {
                max_label_names_per_series: l.max_label_names_per_series,
                max_label_name_length: l.max_label_name_length,
                max_label_value_length: l.max_label_value_length,
                max_series_per_tenant: l.max_series_per_tenant,
            },
            max_exemplars: self.storage.exemplars.max_exemplars,
            ..Default::default()
        })
    }
}

/// Parses and validates configuration text; `base` is the directory relative paths in it
/// are resolved against.
pub fn parse(text: &str, base: &Path) -> Result<Loaded> {
    let config: Config = if text.trim().is_empty() { Config::default() } else { serde_yaml::from_str(text)? };
    let jobs = resolve_jobs(&config.global, &config.scrape_configs, base)?;
    config.tsdb_options()?;
    seer_model::TenantId::new(&config.tenancy.default_tenant).context("tenancy.default_tenant")?;
    let mut warnings = Vec::new();
    for (name, v) in [
        ("rule_files", &config.rule_files),
        ("alerting", &config.alerting),
        ("remote_write", &config.remote_write),
        ("remote_read", &config.remote_read),
    ] {
        if v.is_some() {
            warnings.push(format!(
                "configuration section {name:?} is not supported by this version of Seer and is ignored"
            ));
        }
    }
    Ok(Loaded { config, jobs, warnings })
}

/// Reads and validates a configuration file.
pub fn load(path: &Path) -> Result<Loaded> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&text, &base).with_context(|| format!("loading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_prometheus_files_load() {
        let l = parse("", Path::new("/")).unwrap();
        assert!(l.jobs.is_empty());
        let prom = "global:\n  scrape_interval: 15s\nrule_files: [a.yml]\nalerting: {alertmanagers: []}\nscrape_configs:\n- job_name: node\n  static_configs: [{targets: ['localhost:9100']}]\n";
        let l = parse(prom, Path::new("/")).unwrap();
        assert_eq!(l.jobs.len(), 1);
        assert_eq!(l.warnings.len(), 2);
    }

    #[test]
    fn seer_sections_and_errors() {
        let l = parse("storage:\n  tsdb:\n    retention_time: 30d\n    out_of_order_time_window: 10m\n    retention_size: 10GB\nlimits:\n  max_series_per_tenant: 10\n", Path::new("/")).unwrap();
        let o = l.config.tsdb_options().unwrap();
        assert_eq!(o.retention_time, 30 * 86_400_000);
        assert_eq!(o.out_of_order_window, 600_000);
        assert_eq!(o.retention_size, 10 << 30);
        assert_eq!(o.limits.max_series_per_tenant, 10);
        let l = parse(
            "logs:\n  retention_period: 30d\n  ingestion_rate_mb: 50\n  max_line_size: 1MB\n  discover_service_name: []\n",
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(l.config.logs.limits().max_line_size, 1 << 20);
        assert!(l.config.logs.limits().discover_service_name.is_empty());
        assert_eq!(l.config.logs.ingestion_rate_mb, 50.0);
        assert_eq!(l.config.logs.store_options(Default::default()).retention_ns, 30 * 86_400 * 1_000_000_000);
        assert_eq!(LogsConfig::default().limits().max_label_names_per_series, 15);
        for (bad, want) in [
            ("logs: {max_line_size: 12}", "needs a unit"),
            ("logs: {bogus: 1}", "unknown field `bogus`"),
            ("storage: {tsdb: {wal_fsync: sometimes}}", "wal_fsync"),
            ("storage: {tsdb: {out_of_order_time_window: 2h}}", "at most half"),
            ("bogus: 1", "unknown field `bogus`"),
            ("tenancy: {default_tenant: 'a/b'}", "default_tenant"),
        ] {
            let e = format!("{:#}", parse(bad, Path::new("/")).unwrap_err());
            assert!(e.contains(want), "{bad}: {e}");
        }
    }
}
