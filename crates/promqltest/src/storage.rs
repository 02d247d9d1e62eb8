//! In-memory storage for test scripts. Histogram counter-reset hints are derived the way
//! Prometheus' chunked storage reports them (first sample of a chunk Unknown, later ones
//! NotCounterReset, Gauge in gauge chunks), because the tests observe that.

use seer_model::{
    CounterResetHint, FloatHistogram, HistogramSample, Labels, Matcher, Queryable, Sample, SelectedSeries, StorageError,
};
use seer_promql::histogram as hist;
use std::collections::BTreeMap;

/// Series by label set.
#[derive(Default)]
pub struct MemStorage {
    series: BTreeMap<Labels, SelectedSeries>,
}

/// A value to append.
pub enum Point {
    /// A float (may be a stale marker).
    F(f64),
    /// A histogram.
    H(FloatHistogram),
}

impl MemStorage {
    /// Drops everything.
    pub fn clear(&mut self) {
        self.series.clear();
    }

    /// All stored series.
    pub fn all(&self) -> impl Iterator<Item = &SelectedSeries> {
        self.series.values()
    }

    /// Appends points of one series (times ascending), replacing points at equal times.
    pub fn append(&mut self, labels: Labels, points: Vec<(i64, Point)>) {
        let s = self.series.entry(labels.clone()).or_insert_with(|| SelectedSeries { labels, ..Default::default() });
        for (t, p) in points {
            s.floats.retain(|x| x.t != t);
            s.histograms.retain(|x| x.t != t);
            match p {
                Point::F(v) => {
                    let last_is_hist = match (s.floats.last(), s.histograms.last()) {
                        (Some(f), Some(h)) => h.t > f.t,
                        (None, Some(_)) => true,
                        _ => false,
                    };
                    if seer_model::is_stale_nan(v) && last_is_hist {
                        let h = FloatHistogram { sum: v, ..Default::default() };
                        s.histograms.push(HistogramSample { t, h });
                    } else {
                        s.floats.push(Sample { t, v });
                    }
                }
                Point::H(h) => s.histograms.push(HistogramSample { t, h }),
            }
        }
        s.floats.sort_by_key(|p| p.t);
        s.histograms.sort_by_key(|p| p.t);
        derive_hints(s);
    }
}

/// Rewrites the histogram hints as chunked storage would report them.
fn derive_hints(s: &mut SelectedSeries) {
    const CHUNK_RANGE: i64 = 2 * 3600 * 1000;
    let floats: Vec<i64> = s.floats.iter().map(|p| p.t).collect();
    let mut prev: Option<FloatHistogram> = None;
    let mut prev_t: i64 = i64::MIN;
    let mut prev_stale = false;
    let mut gauge_chunk = false;
    let mut chunk_end = i64::MIN;
    for hs in &mut s.histograms {
        let h = &mut hs.h;
        let stale = h.is_stale();
        let float_between = floats.iter().any(|&t| t > prev_t && t < hs.t);
        let is_gauge = h.counter_reset_hint == CounterResetHint::Gauge;
        let new_chunk = match &prev {
            None => true,
            Some(p) => {
                if float_between || hs.t >= chunk_end {
                    true
                } else if stale {
                    false
                } else if is_gauge != gauge_chunk || prev_stale {
                    true
                } else if gauge_chunk {
                    p.schema != h.schema || p.zero_threshold != h.zero_threshold || p.custom_values != h.custom_values
                } else {
                    h.counter_reset_hint == CounterResetHint::CounterReset
                        || p.schema != h.schema
                        || p.zero_threshold != h.zero_threshold
                        || p.custom_values != h.custom_values
                        || {
                            let mut a = h.clone();
                            a.counter_reset_hint = CounterResetHint::Unknown;
                            let mut b = p.clone();
                            b.counter_reset_hint = CounterResetHint::Unknown;
                            hist::detect_reset(&a, &b)
                        }
                }
            }
        };
        if new_chunk {
            gauge_chunk = is_gauge && !stale;
            chunk_end = (hs.t.div_euclid(CHUNK_RANGE) + 1) * CHUNK_RANGE;
        }
        prev_t = hs.t;
        prev_stale = stale;
        if !stale {
            prev = Some(h.clone());
        }
        h.counter_reset_hint = if gauge_chunk {
            CounterResetHint::Gauge
        } else if new_chunk {
            CounterResetHint::Unknown
        } else {
            CounterResetHint::NotCounterReset
        };
    }
}

impl Queryable for MemStorage {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<SelectedSeries>, StorageError> {
        let mut out = Vec::new();
        for (l, s) in &self.series {
            if !matchers.iter().all(|m| m.matches(l.get(&m.name).unwrap_or(""))) {
                continue;
            }
            let floats: Vec<Sample> = s.floats.iter().filter(|p| p.t >= mint && p.t <= maxt).copied().collect();
            let histograms: Vec<HistogramSample> =
                s.histograms.iter().filter(|p| p.t >= mint && p.t <= maxt).cloned().collect();
            if floats.is_empty() && histograms.is_empty() {
                continue;
            }
            out.push(SelectedSeries { labels: l.clone(), floats, histograms });
        }
        Ok(out)
    }
}
