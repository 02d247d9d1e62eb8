//! Native histograms as the query engine sees them: float counts, sparse buckets addressed
//! by spans, either exponential (schema -4..=8) or with custom bounds (schema -53, "NHCB").

/// Schema number of histograms with custom bucket bounds.
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// What the producer said about counter resets since the previous sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CounterResetHint {
    /// Nothing known.
    #[default]
    Unknown,
    /// A reset happened.
    CounterReset,
    /// No reset happened.
    NotCounterReset,
    /// A gauge histogram: resets do not apply.
    Gauge,
}

/// A run of consecutive buckets: `offset` buckets after the end of the previous span (or
/// from index 0 for the first span), `length` buckets long.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BucketSpan {
    /// Gap before this span, in buckets.
    pub offset: i32,
    /// Number of buckets in the span.
    pub length: u32,
}

/// A native histogram with float counts.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FloatHistogram {
    /// Counter reset hint.
    pub counter_reset_hint: CounterResetHint,
    /// Resolution: bucket boundaries are powers of `2^(2^-schema)`; -53 means custom bounds.
    pub schema: i32,
    /// Observations with absolute value up to this fall into the zero bucket.
    pub zero_threshold: f64,
    /// Count of the zero bucket.
    pub zero_count: f64,
    /// Total number of observations.
    pub count: f64,
    /// Sum of the observations.
    pub sum: f64,
    /// Spans of the positive buckets.
    pub positive_spans: Vec<BucketSpan>,
    /// Spans of the negative buckets.
    pub negative_spans: Vec<BucketSpan>,
    /// Counts of the positive buckets (absolute, not deltas).
    pub positive_buckets: Vec<f64>,
    /// Counts of the negative buckets.
    pub negative_buckets: Vec<f64>,
    /// Upper bounds of the custom buckets (schema -53), `+Inf` implied after the last.
    pub custom_values: Vec<f64>,
}

impl FloatHistogram {
    /// True when the histogram uses custom bucket bounds.
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// True when the histogram is a staleness marker (its sum is the stale NaN).
    pub fn is_stale(&self) -> bool {
        crate::is_stale_nan(self.sum)
    }
}
