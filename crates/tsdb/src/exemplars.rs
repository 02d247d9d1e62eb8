//! Exemplar storage: a fixed-size ring shared by all series of a tenant, like Prometheus'
//! circular exemplar storage. The newest exemplars win; memory is bounded by the capacity.

use seer_model::{Exemplar, Labels, Matcher};
use std::collections::HashMap;

/// One stored exemplar.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredExemplar {
    /// Series the exemplar belongs to.
    pub series: Labels,
    /// The exemplar.
    pub exemplar: Exemplar,
}

pub(crate) struct Exemplars {
    ring: Vec<StoredExemplar>,
    next: usize,
    cap: usize,
    /// Newest exemplar time per series hash, to drop duplicates and out-of-order ones.
    newest: HashMap<u64, i64>,
}

impl Exemplars {
    pub(crate) fn new(cap: usize) -> Exemplars {
        Exemplars { ring: Vec::new(), next: 0, cap, newest: HashMap::new() }
    }

    /// Adds an exemplar; returns false when it is not newer than the series' newest one
    /// (Prometheus drops those too).
    pub(crate) fn add(&mut self, series: &Labels, e: &Exemplar) -> bool {
        if self.cap == 0 {
            return false;
        }
        let h = series.stable_hash();
        if let Some(&t) = self.newest.get(&h)
            && e.t <= t
        {
            return false;
        }
        self.newest.insert(h, e.t);
        let item = StoredExemplar { series: series.clone(), exemplar: e.clone() };
        if self.ring.len() < self.cap {
            self.ring.push(item);
        } else {
            let old = std::mem::replace(&mut self.ring[self.next], item);
            let oh = old.series.stable_hash();
            if self.newest.get(&oh) == Some(&old.exemplar.t) {
                self.newest.remove(&oh);
            }
        }
        self.next = (self.next + 1) % self.cap;
        true
    }

    /// Exemplars of series matching `matchers` with times in `[mint, maxt]`, grouped by
    /// series (sorted by labels) and by time within a series.
    pub(crate) fn query(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<(Labels, Vec<Exemplar>)> {
        let mut by_series: HashMap<&Labels, Vec<Exemplar>> = HashMap::new();
        for s in &self.ring {
            if s.exemplar.t < mint || s.exemplar.t > maxt {
                continue;
            }
            if matchers.iter().all(|m| m.matches(s.series.get(&m.name).unwrap_or(""))) {
                by_series.entry(&s.series).or_default().push(s.exemplar.clone());
            }
        }
        let mut out: Vec<(Labels, Vec<Exemplar>)> = by_series
            .into_iter()
            .map(|(l, mut v)| {
                v.sort_by_key(|e| e.t);
                (l.clone(), v)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// All stored exemplars with time `>= mint`, for checkpoints.
    pub(crate) fn newer_than(&self, mint: i64) -> impl Iterator<Item = &StoredExemplar> {
        self.ring.iter().filter(move |s| s.exemplar.t >= mint)
    }

    pub(crate) fn len(&self) -> usize {
        self.ring.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(t: i64) -> Exemplar {
        Exemplar { labels: Labels::from_pairs([("trace_id", format!("t{t}"))]), t, v: 1.0 }
    }

    #[test]
    fn ring_keeps_newest_and_drops_stale() {
        let mut e = Exemplars::new(3);
        let a = Labels::from_pairs([("__name__", "a")]);
        let b = Labels::from_pairs([("__name__", "b")]);
        assert!(e.add(&a, &ex(1)));
        assert!(!e.add(&a, &ex(1)));
        assert!(e.add(&a, &ex(2)));
        assert!(e.add(&b, &ex(3)));
        assert!(e.add(&b, &ex(4)));
        assert_eq!(e.len(), 3);
        let all = e.query(&[], 0, 10);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].1.iter().map(|x| x.t).collect::<Vec<_>>(), vec![2]);
        assert_eq!(all[1].1.iter().map(|x| x.t).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(e.query(&[Matcher::equal("__name__", "b")], 4, 4)[0].1.len(), 1);
    }
}
