//! Shared vocabulary of Seer: label sets, matchers, samples, exemplars, metric metadata,
//! tenant ids, ingest limits, log streams and spans.
//!
//! Owns: the plain data types that the wire decoders (`seer-ingest`) produce and the storage
//! engines (`seer-tsdb`, ...) consume, so that neither side depends on the other.
//! Must not: do I/O, use async, or know any file or wire format.
//!
//! Key decision: a [`Labels`] value is always sorted by name and free of empty values and
//! duplicates. Every constructor enforces that, so storage and query code can compare and hash
//! label sets without normalising them again.

mod duration;
mod gofmt;
pub mod histogram;
mod labels;
mod limits;
mod logs;
mod matcher;
mod metric;
mod query;
mod tenant;
pub mod trace;

pub use duration::{DURATION_UNITS, format_duration_ms, parse_duration_ms};
pub use gofmt::{format_openmetrics_float, go_format_f, go_format_f6, go_format_g};
pub use histogram::{BucketSpan, CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram};
pub use labels::{
    Label, Labels, LabelsBuilder, METRIC_NAME, escape as escape_label_value, is_valid_legacy_label_name,
    is_valid_legacy_metric_name, stable_hash_pairs,
};
pub use limits::{Limits, SeriesError, pairs_to_string};
pub use logs::{EntryFn, LogEntry, LogQueryable, LogStream};
pub use matcher::{MatchKind, Matcher, MatcherError};
pub use metric::{
    Exemplar, MetricMetadata, MetricType, STALE_NAN_BITS, Sample, SeriesSamples, is_stale_nan, stale_nan,
};
pub use query::{HistogramSample, Queryable, SelectedSeries, SeriesHistograms, StorageError};
pub use tenant::{DEFAULT_TENANT, TenantError, TenantId};
