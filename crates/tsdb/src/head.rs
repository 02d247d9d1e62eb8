//! The head: in-memory series of the most recent time range, appendable, recovered from the
//! WAL on start. Holds interned label strings, one [`MemSeries`] per series with its
//! compressed chunks, and an inverted index (postings) from label pairs to series ids.
//!
//! The head is a plain data structure; locking, the WAL and block cutting live in
//! [`crate::Db`].

mod hseries;
mod postings;
mod series;
mod slab;
mod symbols;

pub(crate) use postings::{Postings, intersect, subtract, union_sorted};
pub(crate) use series::{MemSeries, SampleError, SeriesData};
pub(crate) use slab::{PAGE_BITS, PAGE_SIZE, SeriesSlab};
pub(crate) use symbols::Symbols;

use crate::hash::IntMap;
use seer_model::{Label, Labels, MatchKind, Matcher, Sample};
use std::collections::HashMap;

/// Why a series could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CreateError {
    /// The tenant's series limit is reached.
    SeriesLimit(usize),
    /// More than 4 billion series at once.
    IdsExhausted,
}

/// In-memory series index and data.
pub(crate) struct Head {
    pub(crate) symbols: Symbols,
    pub(crate) series: SeriesSlab,
    by_hash: IntMap<u64, u32>,
    /// Label sets whose 64-bit hash equals that of another live series (practically never).
    collisions: HashMap<u64, Vec<u32>>,
    pub(crate) postings: Postings,
    /// Smallest and largest sample time appended since the last truncation
    /// (`i64::MAX`/`i64::MIN` while empty).
    pub(crate) mint: i64,
    pub(crate) maxt: i64,
    /// Samples older than this are already in blocks and are refused.
    pub(crate) min_valid: i64,
    /// Block range: head chunks never cross a multiple of it.
    pub(crate) chunk_range: i64,
    /// Label sets built for queries, by series id. Dashboards ask for the same series again
    /// and again, and building a label set costs an allocation per name and value (on a heap
    /// fragmented by ingestion that was most of an instant query's time). At most
    /// [`LABELS_CACHE_MAX`] entries; an entry goes when its series does (ids are reused).
    labels_cache: std::sync::Mutex<IntMap<u32, Labels>>,
}

/// Most label sets kept by the head's query cache (about 0.5 KiB each).
pub(crate) const LABELS_CACHE_MAX: usize = 65_536;

impl Head {
    pub(crate) fn new(chunk_range: i64) -> Head {
        Head {
            symbols: Symbols::default(),
            series: SeriesSlab::default(),
            by_hash: IntMap::default(),
            collisions: HashMap::new(),
            postings: Postings::default(),
            mint: i64::MAX,
            maxt: i64::MIN,
            min_valid: i64::MIN,
            chunk_range,
            labels_cache: std::sync::Mutex::new(IntMap::default()),
        }
    }

    /// Number of live series.
    pub(crate) fn num_series(&self) -> usize {
        self.series.len()
    }

    fn pairs_equal(&self, ids: &[u32], pairs: &[(&str, &str)]) -> bool {
        ids.len() == pairs.len() * 2
            && pairs
                .iter()
                .enumerate()
                .all(|(i, (n, v))| self.symbols.get(ids[2 * i]) == *n && self.symbols.get(ids[2 * i + 1]) == *v)
    }

    /// Finds the id of a series.
    pub(crate) fn lookup(&self, labels: &Labels, hash: u64) -> Option<u32> {
        let pairs: Vec<(&str, &str)> = labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
        self.lookup_pairs(&pairs, hash)
    }

    /// Finds the id of the series with these sorted label pairs.
    pub(crate) fn lookup_pairs(&self, pairs: &[(&str, &str)], hash: u64) -> Option<u32> {
        let id = *self.by_hash.get(&hash)?;
        if self.series.get(id).is_some_and(|s| self.pairs_equal(&s.labels, pairs)) {
            return Some(id);
        }
        self.collisions
            .get(&hash)?
            .iter()
            .copied()
            .find(|&id| self.series.get(id).is_some_and(|s| self.pairs_equal(&s.labels, pairs)))
    }

    /// Finds or creates a series. Returns its id and whether it was created.
    #[cfg(test)]
    pub(crate) fn get_or_create(&mut self, labels: &Labels, max_series: usize) -> Result<(u32, bool), CreateError> {
        let pairs: Vec<(&str, &str)> = labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
        self.get_or_create_pairs(&pairs, max_series)
    }

    /// [`Head::get_or_create`] for sorted label pairs; only a new series allocates.
    pub(crate) fn get_or_create_pairs(
        &mut self,
        pairs: &[(&str, &str)],
        max_series: usize,
    ) -> Result<(u32, bool), CreateError> {
        let hash = seer_model::stable_hash_pairs(pairs.iter().copied());
        if let Some(id) = self.lookup_pairs(pairs, hash) {
            return Ok((id, false));
        }
        if max_series > 0 && self.series.len() >= max_series {
            return Err(CreateError::SeriesLimit(max_series));
        }
        if self.series.capacity() >= u32::MAX as usize - slab::PAGE_SIZE {
            return Err(CreateError::IdsExhausted);
        }
        let id = self.series.alloc();
        self.insert_pairs(id, pairs, hash);
        Ok((id, true))
    }

    /// Inserts a series with a given, free id (WAL replay and creation).
    pub(crate) fn insert(&mut self, id: u32, labels: &Labels, hash: u64) {
        let pairs: Vec<(&str, &str)> = labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
        self.insert_pairs(id, &pairs, hash)
    }

    fn insert_pairs(&mut self, id: u32, pairs: &[(&str, &str)], hash: u64) {
        let mut ids = Vec::with_capacity(pairs.len() * 2);
        for (name, value) in pairs {
            let n = self.symbols.intern(name);
            let v = self.symbols.intern(value);
            ids.push(n);
            ids.push(v);
            self.postings.add(n, v, id);
        }
        self.series.put(id, MemSeries::new(ids.into_boxed_slice()));
        match self.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(id);
            }
            std::collections::hash_map::Entry::Occupied(_) => self.collisions.entry(hash).or_default().push(id),
        }
    }

    /// Appends one sample to series `id`. `Ok(true)` means it was out of order (kept in the
    /// series' out-of-order buffer).
    pub(crate) fn append(&mut self, id: u32, t: i64, v: f64, ooo_window: i64) -> Result<bool, SampleError> {
        if t < self.min_valid {
            return Err(SampleError::OutOfBounds);
        }
        let head_maxt = self.maxt;
        let chunk_range = self.chunk_range;
        let Some(s) = self.series.get_mut(id) else {
            return Err(SampleError::UnknownSeries);
        };
        let ooo = s.append(t, v, head_maxt, ooo_window, chunk_range)?;
        if t < self.mint {
            self.mint = t;
        }
        if t > self.maxt {
            self.maxt = t;
        }
        Ok(ooo)
    }

    /// Appends one native histogram sample to series `id` (in order only).
    pub(crate) fn append_histogram(
        &mut self,
        id: u32,
        t: i64,
        h: seer_model::FloatHistogram,
    ) -> Result<(), SampleError> {
        if t < self.min_valid {
            return Err(SampleError::OutOfBounds);
        }
        let chunk_range = self.chunk_range;
        let Some(s) = self.series.get_mut(id) else {
            return Err(SampleError::UnknownSeries);
        };
        s.append_histogram(t, h, chunk_range)?;
        self.mint = self.mint.min(t);
        self.maxt = self.maxt.max(t);
        Ok(())
    }

    /// Histogram samples of series `id` within `[mint, maxt]`.
    pub(crate) fn histograms(&self, id: u32, mint: i64, maxt: i64, out: &mut Vec<seer_model::HistogramSample>) {
        if let Some(s) = self.series.get(id) {
            s.histograms(mint, maxt, out);
        }
    }

    /// Labels of series `id`.
    pub(crate) fn labels_of(&self, id: u32) -> Option<Labels> {
        let s = self.series.get(id)?;
        Some(self.labels_from_ids(&s.labels))
    }

    /// Labels of series `id` (whose label ids are `ids`) through the query cache.
    pub(crate) fn labels_cached(&self, id: u32, ids: &[u32]) -> Labels {
        let mut c = self.labels_cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = c.get(&id) {
            return l.clone();
        }
        let l = self.labels_from_ids(ids);
        if c.len() < LABELS_CACHE_MAX {
            c.insert(id, l.clone());
        }
        l
    }

    pub(crate) fn labels_from_ids(&self, ids: &[u32]) -> Labels {
        let pairs = ids
            .chunks_exact(2)
            .map(|p| Label { name: self.symbols.get(p[0]).to_string(), value: self.symbols.get(p[1]).to_string() })
            .collect();
        Labels::from_sorted(pairs)
    }

    /// Ids of the series matching all `matchers`, ascending. An empty matcher list selects
    /// every series.
    pub(crate) fn select_ids(&self, matchers: &[Matcher]) -> Vec<u32> {
        let mut include: Vec<Vec<u32>> = Vec::new();
        let mut exclude: Vec<Vec<u32>> = Vec::new();
        for m in matchers {
            let Some(name) = self.symbols.lookup(&m.name) else {
                // No series has this label: it reads as "" everywhere.
                if m.matches("") {
                    continue;
                }
                return Vec::new();
            };
            if !m.matches("") {
                include.push(self.postings_matching(name, m, true));
            } else if m.kind != MatchKind::Regex || m.value != ".*" {
                exclude.push(self.postings_matching(name, m, false));
            }
        }
        let mut ids = if include.is_empty() {
            self.series.iter().map(|(id, _)| id).collect()
        } else {
            include.sort_by_key(|l| l.len());
            let mut it = include.into_iter();
            let mut acc = it.next().unwrap_or_default();
            for l in it {
                acc = intersect(&acc, &l);
                if acc.is_empty() {
                    break;
                }
            }
            acc
        };
        for ex in exclude {
            ids = subtract(&ids, &ex);
        }
        ids
    }

    /// Union of postings of the values of label `name` for which `m.matches(value) == want`.
    fn postings_matching(&self, name: u32, m: &Matcher, want: bool) -> Vec<u32> {
        if want && let Some(vals) = m.exact_values() {
            let lists: Vec<&[u32]> =
                vals.iter().filter_map(|v| self.symbols.lookup(v)).filter_map(|v| self.postings.get(name, v)).collect();
            return union_sorted(&lists);
        }
        let Some(values) = self.postings.values(name) else {
            return Vec::new();
        };
        let lists: Vec<&[u32]> = values
            .iter()
            .filter(|(v, _)| m.matches(self.symbols.get(**v)) == want)
            .map(|(_, l)| l.as_slice())
            .collect();
        union_sorted(&lists)
    }

    /// Appends the samples of series `id` within `[mint, maxt]` to `out`, sorted by time.
    pub(crate) fn samples(&self, id: u32, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        if let Some(s) = self.series.get(id) {
            s.samples(mint, maxt, out);
        }
    }

    /// Removes chunks and samples older than `cut`, deletes series left without data, and
    /// raises `min_valid` to `cut`. Returns the number of series removed.
    pub(crate) fn truncate(&mut self, cut: i64) -> usize {
        let mut dead: Vec<u32> = Vec::new();
        for (id, s) in self.series.iter_mut() {
            s.truncate(cut);
            if s.is_empty() {
                dead.push(id);
            }
        }
        for &id in &dead {
            self.remove_series(id);
        }
        self.postings.remove_ids(&dead, &mut self.symbols);
        self.min_valid = self.min_valid.max(cut);
        self.mint = self.series.iter().filter_map(|(_, s)| s.min_time()).min().unwrap_or(i64::MAX).max(cut);
        if self.series.len() == 0 {
            self.mint = i64::MAX;
        }
        dead.len()
    }

    /// Frees series `id`: its hash entry, its symbols, and (lazily, see
    /// [`Postings::remove_ids`]) its postings.
    fn remove_series(&mut self, id: u32) {
        let Some(s) = self.series.remove(id) else { return };
        self.labels_cache.get_mut().unwrap_or_else(|e| e.into_inner()).remove(&id);
        let hash = stable_hash_ids(&self.symbols, &s.labels);
        if self.by_hash.get(&hash) == Some(&id) {
            self.by_hash.remove(&hash);
            if let Some(c) = self.collisions.get_mut(&hash) {
                if let Some(other) = c.pop() {
                    self.by_hash.insert(hash, other);
                }
                if c.is_empty() {
                    self.collisions.remove(&hash);
                }
            }
        } else if let Some(c) = self.collisions.get_mut(&hash) {
            c.retain(|&x| x != id);
            if c.is_empty() {
                self.collisions.remove(&hash);
            }
        }
        for p in s.labels.chunks_exact(2) {
            self.postings.mark_dirty(p[0], p[1]);
            self.symbols.release(p[0]);
            self.symbols.release(p[1]);
        }
    }

    /// Replaces the series `id` by a new definition (WAL replay of an id that was freed and
    /// reused before the crash).
    pub(crate) fn redefine(&mut self, id: u32, labels: &Labels, hash: u64) {
        self.remove_series(id);
        self.postings.remove_ids(&[id], &mut self.symbols);
        self.insert(id, labels, hash);
    }

    /// Approximate heap bytes held by series data and the index.
    pub(crate) fn heap_bytes(&self) -> usize {
        let series: usize = self.series.iter().map(|(_, s)| s.heap_bytes()).sum::<usize>() + self.series.heap_bytes();
        series + self.postings.heap_bytes() + self.symbols.heap_bytes() + self.by_hash.capacity() * 16
    }
}

/// The stable hash of a series given as symbol ids, equal to `Labels::stable_hash`.
pub(crate) fn stable_hash_ids(symbols: &Symbols, ids: &[u32]) -> u64 {
    seer_model::stable_hash_pairs(ids.chunks_exact(2).map(|p| (symbols.get(p[0]), symbols.get(p[1]))))
}

#[cfg(test)]
mod tests;
