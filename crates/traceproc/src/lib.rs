//! Trace processing between ingest and storage: sampling, span metrics and the service
//! graph.
//!
//! Owns: the sampling decisions (head sampling by service rate, tail sampling of buffered
//! traces by ordered policies, and the same policies applied at retention time), the
//! span-metrics processor (`traces_spanmetrics_*`, as Tempo's metrics-generator) and the
//! service-graph processor (`traces_service_graph_*`, plus the edge list for Jaeger's
//! `/api/dependencies`), with their configuration structs and `seer_*` counters.
//! Must not: do I/O, store anything, spawn threads, use async or read clocks. Every processor
//! is a plain struct of one tenant, fed spans and the current time by the caller, which owns
//! clocks, locking, storage and the export of the series returned by each `collect`.
//!
//! Wiring, per tenant (configuration structs derive `Deserialize`, unknown keys refused,
//! every key optional; durations are Prometheus duration strings):
//!
//! 1. decoded spans → [`HeadSampler::filter`] → metrics processors and then either the store
//!    or, when `sampling.tail.enabled`, [`TailSampler::offer`];
//! 2. periodically [`TailSampler::poll`] (and [`TailSampler::flush`] at shutdown): store the
//!    spans of every [`Decided`] with `keep`;
//! 3. [`SpanMetrics::observe`] and [`ServiceGraph::observe`] see spans *before* tail
//!    sampling (so the metrics count all traffic the head kept);
//! 4. every collection interval, append the `collect(now_ms)` series of [`SpanMetrics`],
//!    [`ServiceGraph`] and the samplers' [`SamplingStats`] to the metrics store (they come as
//!    `SeriesSamples` with exemplars attached; `metadata()` gives their types), then call
//!    [`SpanMetrics::remove_stale`] and [`ServiceGraph::expire`];
//! 5. the trace store's long-term filter is `|spans| long_term_keep(&policy, spans).keep`.
//!
//! Key decision: every probabilistic choice is made from the trace id alone (its rightmost
//! 7 bytes, as OpenTelemetry's consistent probability sampling defines), so the same trace
//! gets the same decision in every process, batch and restart; see [`sampling`].

pub mod config;
mod metrics;
pub mod sampling;
pub mod servicegraph;
pub mod spanmetrics;

#[cfg(test)]
mod testutil;

pub use config::{ConfigDuration, ConfigError};
pub use sampling::{
    Decided, HeadSampler, HeadSamplingConfig, PolicyConfig, Reason, SamplingConfig, SamplingStats, TailPolicy,
    TailSampler, TailSamplingConfig, Verdict, long_term_keep,
};
pub use servicegraph::{Edge, ServiceGraph, ServiceGraphConfig};
pub use spanmetrics::{SpanMetrics, SpanMetricsConfig};
