//! Reads across the head and the blocks: series selection with samples, series lookups,
//! label names and values, exemplars and metadata. Results are sorted by labels and merged
//! where a series appears in several places.

use crate::compact::{merge_histograms, merge_samples};
use crate::db::Db;
use crate::error::Error;
use crate::exemplars::StoredExemplar;
use seer_model::{Exemplar, Labels, Matcher, MetricMetadata, Sample};
use std::collections::BTreeSet;

/// A series with its samples in the queried range.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Identity.
    pub labels: Labels,
    /// Samples, sorted by time.
    pub samples: Vec<Sample>,
    /// Native histogram samples, sorted by time.
    pub histograms: Vec<seer_model::HistogramSample>,
}

/// Series handled per head read-lock acquisition, so long queries never stall writers.
const HEAD_BATCH: usize = 2048;

impl Db {
    /// Series matching all `matchers` with their samples in `[mint, maxt]` (inclusive),
    /// sorted by labels. Series without samples in range are left out.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, Error> {
        let mut parts: Vec<Series> = Vec::new();
        for b in self.blocks() {
            let m = b.meta();
            if m.max_time <= mint || m.min_time > maxt {
                continue;
            }
            let ords = b.select(matchers)?;
            for chunk in ords.chunks(1024) {
                for s in b.series(chunk)? {
                    if s.maxt < mint || s.mint > maxt {
                        continue;
                    }
                    let mut samples = Vec::new();
                    let mut histograms = Vec::new();
                    b.read_series(&s, mint, maxt, &mut samples, &mut histograms)?;
                    if !samples.is_empty() || !histograms.is_empty() {
                        parts.push(Series { labels: s.labels, samples, histograms });
                    }
                }
            }
        }
        let ids = self.head.read().unwrap_or_else(|e| e.into_inner()).select_ids(matchers);
        for chunk in ids.chunks(HEAD_BATCH) {
            let h = self.head.read().unwrap_or_else(|e| e.into_inner());
            for &id in chunk {
                let Some(s) = h.series.get(id) else { continue };
                let mut samples = Vec::new();
                s.samples(mint, maxt, &mut samples);
                let mut histograms = Vec::new();
                s.histograms(mint, maxt, &mut histograms);
                if !samples.is_empty() || !histograms.is_empty() {
                    parts.push(Series { labels: h.labels_cached(id, &s.labels), samples, histograms });
                }
            }
        }
        Ok(merge_series(parts))
    }

    /// Label sets of the series matching `matchers` that have data in `[mint, maxt]`,
    /// sorted and unique.
    pub fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Labels>, Error> {
        let mut set: BTreeSet<Labels> = BTreeSet::new();
        for b in self.blocks() {
            let m = b.meta();
            if m.max_time <= mint || m.min_time > maxt {
                continue;
            }
            let ords = b.select(matchers)?;
            for chunk in ords.chunks(1024) {
                for s in b.series(chunk)? {
                    if s.maxt >= mint && s.mint <= maxt {
                        set.insert(s.labels);
                    }
                }
            }
        }
        let ids = self.head.read().unwrap_or_else(|e| e.into_inner()).select_ids(matchers);
        for chunk in ids.chunks(HEAD_BATCH) {
            let h = self.head.read().unwrap_or_else(|e| e.into_inner());
            for &id in chunk {
                let Some(s) = h.series.get(id) else { continue };
                let (Some(a), Some(b)) = (s.min_time(), s.max_time()) else { continue };
                if b >= mint && a <= maxt {
                    set.insert(h.labels_from_ids(&s.labels));
                }
            }
        }
        Ok(set.into_iter().collect())
    }

    /// Label names of series with data in `[mint, maxt]` (of those matching `matchers`, if
    /// any are given), sorted.
    pub fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<String>, Error> {
        let mut set: BTreeSet<String> = BTreeSet::new();
        if !matchers.is_empty() {
            for l in self.series(matchers, mint, maxt)? {
                for p in &l {
                    set.insert(p.name.clone());
                }
            }
            return Ok(set.into_iter().collect());
        }
        for b in self.blocks() {
            let m = b.meta();
            if m.max_time > mint && m.min_time <= maxt {
                set.extend(b.label_names());
            }
        }
        let h = self.head.read().unwrap_or_else(|e| e.into_inner());
        if h.mint <= maxt && h.maxt >= mint {
            set.extend(h.postings.names().map(|n| h.symbols.get(n).to_string()));
        }
        Ok(set.into_iter().collect())
    }

    /// Values of label `name` among series with data in `[mint, maxt]` (of those matching
    /// `matchers`, if any are given), sorted.
    pub fn label_values(&self, name: &str, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<String>, Error> {
        let mut set: BTreeSet<String> = BTreeSet::new();
        if !matchers.is_empty() {
            for l in self.series(matchers, mint, maxt)? {
                if let Some(v) = l.get(name) {
                    set.insert(v.to_string());
                }
            }
            return Ok(set.into_iter().collect());
        }
        for b in self.blocks() {
            let m = b.meta();
            if m.max_time > mint && m.min_time <= maxt {
                set.extend(b.label_values(name));
            }
        }
        let h = self.head.read().unwrap_or_else(|e| e.into_inner());
        if h.mint <= maxt
            && h.maxt >= mint
            && let Some(n) = h.symbols.lookup(name)
            && let Some(vals) = h.postings.values(n)
        {
            set.extend(vals.keys().map(|&v| h.symbols.get(v).to_string()));
        }
        Ok(set.into_iter().collect())
    }

    /// Exemplars of series matching `matchers` in `[mint, maxt]`, grouped by series.
    pub fn exemplars(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, Vec<Exemplar>)> {
        self.exemplars.lock().unwrap_or_else(|e| e.into_inner()).query(matchers, mint, maxt)
    }

    /// Every stored exemplar (for tests and tools).
    pub fn all_exemplars(&self) -> Vec<StoredExemplar> {
        self.exemplars.lock().unwrap_or_else(|e| e.into_inner()).newer_than(i64::MIN).cloned().collect()
    }

    /// Metadata of every metric family seen, sorted by family name.
    pub fn metadata(&self) -> Vec<MetricMetadata> {
        let md = self.metadata.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<MetricMetadata> = md.values().cloned().collect();
        v.sort_by(|a, b| a.metric_family.cmp(&b.metric_family));
        v
    }
}

/// Sorts parts by labels and merges parts of the same series (earlier parts win on equal
/// timestamps: blocks come before the head and older blocks before newer).
fn merge_series(mut parts: Vec<Series>) -> Vec<Series> {
    // Parts from one source arrive sorted already; checking is much cheaper than sorting.
    if !parts.is_sorted_by(|a, b| a.labels <= b.labels) {
        // One flat key per series makes each comparison a single memcmp instead of one per
        // label name and value.
        let keys: Option<Vec<Vec<u8>>> = parts.iter().map(|p| p.labels.sort_key()).collect();
        match keys {
            Some(keys) => {
                let mut order: Vec<(Vec<u8>, Series)> = keys.into_iter().zip(parts).collect();
                order.sort_by(|a, b| a.0.cmp(&b.0));
                parts = order.into_iter().map(|(_, s)| s).collect();
            }
            None => parts.sort_by(|a, b| a.labels.cmp(&b.labels)),
        }
    }
    let mut out: Vec<Series> = Vec::with_capacity(parts.len());
    let mut i = 0;
    let mut parts: Vec<Option<Series>> = parts.into_iter().map(Some).collect();
    while i < parts.len() {
        // A series found in several blocks: size its vector once, not by repeated doubling.
        let Some(mut first) = parts[i].take() else { break };
        let mut j = i + 1;
        let mut total = first.samples.len();
        while j < parts.len() && parts[j].as_ref().is_some_and(|p| p.labels == first.labels) {
            total += parts[j].as_ref().map_or(0, |p| p.samples.len());
            j += 1;
        }
        if j > i + 1 {
            first.samples.reserve_exact(total - first.samples.len());
        }
        out.push(first);
        for p in parts[i + 1..j].iter_mut() {
            let p = p.take().expect("taken once");
            let last = out.last_mut().expect("pushed above");
            merge_samples(&mut last.samples, &p.samples);
            merge_histograms(&mut last.histograms, p.histograms);
        }
        i = j;
    }
    out
}

/// Head statistics and the largest cardinalities, for `/api/v1/status/tsdb`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HeadStatus {
    /// Live series in the head.
    pub num_series: u64,
    /// Distinct label pairs in the head index.
    pub num_label_pairs: u64,
    /// Chunks held by head series.
    pub chunk_count: u64,
    /// Oldest sample time in the head (ms; `i64::MAX` when empty, like Prometheus).
    pub min_time: i64,
    /// Newest sample time in the head (ms; `i64::MIN` when empty).
    pub max_time: i64,
    /// Top metric names by series count.
    pub series_count_by_metric_name: Vec<(String, u64)>,
    /// Top label names by number of values.
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    /// Top label names by bytes of their values across series.
    pub memory_in_bytes_by_label_name: Vec<(String, u64)>,
    /// Top `name=value` pairs by series count.
    pub series_count_by_label_value_pair: Vec<(String, u64)>,
}

fn top(mut v: Vec<(String, u64)>, limit: usize) -> Vec<(String, u64)> {
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(limit);
    v
}

impl Db {
    /// Head statistics with the `limit` largest entries of each cardinality list.
    pub fn head_status(&self, limit: usize) -> HeadStatus {
        let h = self.head.read().unwrap_or_else(|e| e.into_inner());
        let mut st = HeadStatus {
            num_series: h.num_series() as u64,
            min_time: h.mint,
            max_time: h.maxt,
            ..HeadStatus::default()
        };
        for page in &h.series.pages {
            for s in page.iter().filter(|s| s.live) {
                st.chunk_count += s.chunk_count() as u64;
            }
        }
        let (mut by_metric, mut values_by_name, mut bytes_by_name, mut by_pair) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for name_id in h.postings.names() {
            let Some(values) = h.postings.values(name_id) else { continue };
            let name = h.symbols.get(name_id).to_string();
            let mut bytes = 0u64;
            let mut live_values = 0u64;
            for (&value_id, ids) in values {
                if ids.is_empty() {
                    continue;
                }
                live_values += 1;
                let value = h.symbols.get(value_id);
                bytes += (value.len() * ids.len()) as u64;
                st.num_label_pairs += 1;
                if name == seer_model::METRIC_NAME {
                    by_metric.push((value.to_string(), ids.len() as u64));
                }
                by_pair.push((format!("{name}={value}"), ids.len() as u64));
            }
            values_by_name.push((name.clone(), live_values));
            bytes_by_name.push((name, bytes));
        }
        st.series_count_by_metric_name = top(by_metric, limit);
        st.label_value_count_by_label_name = top(values_by_name, limit);
        st.memory_in_bytes_by_label_name = top(bytes_by_name, limit);
        st.series_count_by_label_value_pair = top(by_pair, limit);
        st
    }
}

impl seer_model::Queryable for Db {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<seer_model::SelectedSeries>, seer_model::StorageError> {
        let series = Db::select(self, matchers, mint, maxt).map_err(|e| seer_model::StorageError(e.to_string()))?;
        Ok(series
            .into_iter()
            .map(|s| seer_model::SelectedSeries { labels: s.labels, floats: s.samples, histograms: s.histograms })
            .collect())
    }
}
