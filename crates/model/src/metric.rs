//! Samples, exemplars and metric metadata.

use crate::Labels;

/// The bit pattern Prometheus uses to mark a series as stale. It is a NaN that no arithmetic
/// produces, so it survives storage unchanged and is told apart from a real NaN sample.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker value.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// True when `v` is the staleness marker (and not just any NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One float sample: a millisecond timestamp and a value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value; may be the staleness marker.
    pub v: f64,
}

/// An exemplar attached to a series: a labelled example observation (usually a trace id).
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    /// Exemplar labels, e.g. `trace_id`.
    pub labels: Labels,
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// Observed value.
    pub v: f64,
}

/// The samples and exemplars of one series in an ingest batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeriesSamples {
    /// Series identity.
    pub labels: Labels,
    /// Float samples, in the order they arrived.
    pub samples: Vec<Sample>,
    /// Exemplars of the series.
    pub exemplars: Vec<Exemplar>,
}

/// Metric family type, as in the exposition formats and remote write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum MetricType {
    /// No type given.
    #[default]
    Unknown,
    /// Monotonic counter.
    Counter,
    /// Gauge.
    Gauge,
    /// Classic or native histogram.
    Histogram,
    /// Gauge histogram (OpenMetrics).
    GaugeHistogram,
    /// Summary.
    Summary,
    /// Info (OpenMetrics).
    Info,
    /// State set (OpenMetrics).
    StateSet,
}

impl MetricType {
    /// The lowercase name used by `/api/v1/metadata`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Unknown => "unknown",
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
        }
    }

    /// Parses the lowercase name; unknown names give [`MetricType::Unknown`].
    pub fn parse(s: &str) -> MetricType {
        match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            _ => MetricType::Unknown,
        }
    }
}

/// Metadata of one metric family.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MetricMetadata {
    /// Family name (for histograms without the `_bucket` suffix).
    pub metric_family: String,
    /// Family type.
    pub kind: MetricType,
    /// Help text.
    pub help: String,
    /// Unit, may be empty.
    pub unit: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_nan_is_distinct_from_nan() {
        assert!(is_stale_nan(stale_nan()));
        assert!(!is_stale_nan(f64::NAN));
        assert!(stale_nan().is_nan());
    }

    #[test]
    fn metric_type_round_trip() {
        for t in [
            MetricType::Counter,
            MetricType::Gauge,
            MetricType::Histogram,
            MetricType::GaugeHistogram,
            MetricType::Summary,
            MetricType::Info,
            MetricType::StateSet,
            MetricType::Unknown,
        ] {
            assert_eq!(MetricType::parse(t.as_str()), t);
        }
    }
}
