//! Reads across the head and the blocks: series selection with samples, series lookups,
//! label names and values, exemplars and metadata. Results are sorted by labels and merged
//! where a series appears in several places.

use crate::compact::merge_samples;
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
                    b.samples(&s, mint, maxt, &mut samples)?;
                    if !samples.is_empty() {
                        parts.push(Series { labels: s.labels, samples });
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
                if !samples.is_empty() {
                    parts.push(Series { labels: h.labels_from_ids(&s.labels), samples });
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
        if h.mint <= maxt && h.maxt >= mint {
            if let Some(n) = h.symbols.lookup(name) {
                if let Some(vals) = h.postings.values(n) {
                    set.extend(vals.keys().map(|&v| h.symbols.get(v).to_string()));
                }
            }
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
    parts.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut out: Vec<Series> = Vec::with_capacity(parts.len());
    for p in parts {
        match out.last_mut() {
            Some(last) if last.labels == p.labels => merge_samples(&mut last.samples, &p.samples),
            _ => out.push(p),
        }
    }
    out
}
