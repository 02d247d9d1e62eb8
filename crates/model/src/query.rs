//! The seam between query engines and the metrics store: select series by matchers with
//! their samples in a time range.

use crate::{FloatHistogram, Labels, Matcher, Sample};

/// A native histogram sample.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The histogram; a staleness marker has the stale NaN as sum.
    pub h: FloatHistogram,
}

/// The native histogram samples of one series in an ingest batch.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SeriesHistograms {
    /// Series identity.
    pub labels: Labels,
    /// Samples, in time order.
    pub histograms: Vec<HistogramSample>,
}

/// One series as selected for a query.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SelectedSeries {
    /// Identity.
    pub labels: Labels,
    /// Float samples sorted by time (stale markers included).
    pub floats: Vec<Sample>,
    /// Histogram samples sorted by time (stale markers included).
    pub histograms: Vec<HistogramSample>,
}

/// A storage failure, reported to query clients as an internal error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(pub String);

/// Read access to metrics for query engines.
pub trait Queryable: Sync {
    /// Series matching all `matchers` with samples in `[mint, maxt]` (inclusive), sorted by
    /// labels. Series without samples in range may be left out.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<SelectedSeries>, StorageError>;
}
