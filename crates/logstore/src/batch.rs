//! Column-wise entries of one stream: the shape entries have in the head and after a block
//! chunk is decoded.

use seer_model::Label;

/// Entries of one stream: times, lines packed into one buffer, per-entry structured metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    /// Unix nanoseconds per entry.
    pub ts: Vec<i64>,
    /// End offset of each line in `text`.
    pub ends: Vec<u32>,
    /// All lines back to back.
    pub text: String,
    /// Structured metadata per entry (empty vectors do not allocate).
    pub metadata: Vec<Vec<Label>>,
}

impl Batch {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// True without entries.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Line `i`.
    pub fn line(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// Appends one entry.
    pub fn push(&mut self, ts: i64, line: &str, metadata: Vec<Label>) {
        self.ts.push(ts);
        self.text.push_str(line);
        self.ends.push(self.text.len() as u32);
        self.metadata.push(metadata);
    }

    /// True when times never decrease.
    pub fn is_sorted(&self) -> bool {
        self.ts.is_sorted()
    }

    /// A copy ordered by time (stable: equal times keep arrival order).
    pub fn sorted(&self) -> Batch {
        let mut idx: Vec<usize> = (0..self.len()).collect();
        idx.sort_by_key(|&i| self.ts[i]);
        let mut out = Batch::default();
        out.text.reserve(self.text.len());
        for i in idx {
            out.push(self.ts[i], self.line(i), self.metadata[i].clone());
        }
        out
    }

    /// Entries with `start <= ts < end` as an index range (the batch must be sorted).
    pub fn range(&self, start: i64, end: i64) -> std::ops::Range<usize> {
        let lo = self.ts.partition_point(|&t| t < start);
        let hi = self.ts.partition_point(|&t| t < end);
        lo..hi.max(lo)
    }
}
