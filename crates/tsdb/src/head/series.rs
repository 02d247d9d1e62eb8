//! One series in the head: closed chunks, the open chunk, and out-of-order samples.

use crate::chunk::xor::{MAX_SAMPLES, XorAppender, XorIter};
use seer_model::Sample;

/// Why a sample was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SampleError {
    /// Older than the newest sample of the series and out-of-order ingestion is off.
    OutOfOrder,
    /// Older than the out-of-order window allows.
    TooOld,
    /// Older than the head: that time range is already in blocks.
    OutOfBounds,
    /// Same timestamp as an existing sample, different value.
    Duplicate,
    /// No such series (WAL replay of a record without its series definition).
    UnknownSeries,
}

impl SampleError {
    /// The message Prometheus uses for the same condition.
    pub(crate) fn message(self) -> &'static str {
        match self {
            SampleError::OutOfOrder => "out of order sample",
            SampleError::TooOld => "too old sample",
            SampleError::OutOfBounds => "out of bounds",
            SampleError::Duplicate => "duplicate sample for timestamp",
            SampleError::UnknownSeries => "unknown series",
        }
    }
}

/// A full chunk, immutable.
pub(crate) struct ClosedChunk {
    pub(crate) mint: i64,
    pub(crate) maxt: i64,
    pub(crate) data: Box<[u8]>,
}

pub(crate) struct MemSeries {
    /// Label pairs as symbol ids: name, value, name, value... sorted by name.
    pub(crate) labels: Box<[u32]>,
    /// False for a free slot of the series slab.
    pub(crate) live: bool,
    closed: Vec<ClosedChunk>,
    open: XorAppender,
    open_mint: i64,
    /// End (exclusive) of the block range the open chunk belongs to.
    open_end: i64,
    /// Samples that arrived older than the newest sample, within the window; sorted.
    ooo: Vec<Sample>,
}

impl MemSeries {
    pub(crate) fn new(labels: Box<[u32]>) -> MemSeries {
        MemSeries {
            labels,
            live: true,
            closed: Vec::new(),
            open: XorAppender::empty(),
            open_mint: 0,
            open_end: i64::MIN,
            ooo: Vec::new(),
        }
    }

    /// An unused slab slot (allocates nothing).
    pub(crate) fn vacant() -> MemSeries {
        MemSeries {
            labels: Box::new([]),
            live: false,
            closed: Vec::new(),
            open: XorAppender::empty(),
            open_mint: 0,
            open_end: i64::MIN,
            ooo: Vec::new(),
        }
    }

    /// Timestamp of the newest in-order sample.
    pub(crate) fn last_t(&self) -> Option<i64> {
        if !self.open.is_empty() { Some(self.open.last_t()) } else { self.closed.last().map(|c| c.maxt) }
    }

    fn last_v_bits(&self) -> Option<u64> {
        if !self.open.is_empty() {
            return Some(self.open.last_v().to_bits());
        }
        let c = self.closed.last()?;
        XorIter::new(&c.data).last().map(|(_, v)| v.to_bits())
    }

    /// Oldest sample time held.
    pub(crate) fn min_time(&self) -> Option<i64> {
        let chunk =
            self.closed.first().map(|c| c.mint).or(if self.open.is_empty() { None } else { Some(self.open_mint) });
        match (chunk, self.ooo.first()) {
            (Some(a), Some(b)) => Some(a.min(b.t)),
            (a, b) => a.or(b.map(|s| s.t)),
        }
    }

    /// Newest sample time held.
    pub(crate) fn max_time(&self) -> Option<i64> {
        match (self.last_t(), self.ooo.last()) {
            (Some(a), Some(b)) => Some(a.max(b.t)),
            (a, b) => a.or(b.map(|s| s.t)),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.closed.is_empty() && self.open.is_empty() && self.ooo.is_empty()
    }

    pub(crate) fn append(
        &mut self,
        t: i64,
        v: f64,
        head_maxt: i64,
        ooo_window: i64,
        chunk_range: i64,
    ) -> Result<(), SampleError> {
        if let Some(last) = self.last_t() {
            if t == last {
                return if self.last_v_bits() == Some(v.to_bits()) { Ok(()) } else { Err(SampleError::Duplicate) };
            }
            if t < last {
                if ooo_window <= 0 {
                    return Err(SampleError::OutOfOrder);
                }
                if t < head_maxt.saturating_sub(ooo_window) {
                    return Err(SampleError::TooOld);
                }
                return self.insert_ooo(t, v);
            }
        }
        if !self.open.is_empty() && (self.open.len() >= MAX_SAMPLES || t >= self.open_end) {
            self.close_open();
        }
        if self.open.is_empty() {
            self.open_mint = t;
            self.open_end = chunk_end(t, chunk_range);
        }
        self.open.append(t, v);
        Ok(())
    }

    fn insert_ooo(&mut self, t: i64, v: f64) -> Result<(), SampleError> {
        match self.ooo.binary_search_by(|s| s.t.cmp(&t)) {
            Ok(i) => {
                if self.ooo[i].v.to_bits() == v.to_bits() {
                    Ok(())
                } else {
                    Err(SampleError::Duplicate)
                }
            }
            Err(i) => {
                self.ooo.insert(i, Sample { t, v });
                Ok(())
            }
        }
    }

    fn close_open(&mut self) {
        // Size the next chunk like this one, so it rarely has to grow.
        let hint = self.open.bytes().len();
        let open = std::mem::replace(&mut self.open, XorAppender::with_capacity(hint));
        let maxt = open.last_t();
        self.closed.push(ClosedChunk { mint: self.open_mint, maxt, data: open.finish() });
    }

    /// Appends samples within `[mint, maxt]` to `out`, sorted, in-order samples winning
    /// over out-of-order ones with the same timestamp.
    pub(crate) fn samples(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        let start = out.len();
        for c in &self.closed {
            if c.maxt < mint || c.mint > maxt {
                continue;
            }
            out.extend(XorIter::new(&c.data).filter(|&(t, _)| t >= mint && t <= maxt).map(|(t, v)| Sample { t, v }));
        }
        if !self.open.is_empty() && self.open_mint <= maxt && self.open.last_t() >= mint {
            out.extend(
                XorIter::new(self.open.bytes()).filter(|&(t, _)| t >= mint && t <= maxt).map(|(t, v)| Sample { t, v }),
            );
        }
        let ooo: Vec<Sample> = self.ooo.iter().filter(|s| s.t >= mint && s.t <= maxt).copied().collect();
        if !ooo.is_empty() {
            let in_order = out.split_off(start);
            merge_into(out, &in_order, &ooo);
        }
    }

    /// Drops everything older than `cut`.
    pub(crate) fn truncate(&mut self, cut: i64) {
        self.closed.retain(|c| c.maxt >= cut);
        if !self.open.is_empty() && self.open.last_t() < cut {
            self.open = XorAppender::empty();
        }
        self.ooo.retain(|s| s.t >= cut);
        if self.ooo.is_empty() && self.ooo.capacity() > 0 {
            self.ooo = Vec::new();
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.labels.len() * 4
            + self.closed.capacity() * std::mem::size_of::<ClosedChunk>()
            + self.closed.iter().map(|c| c.data.len()).sum::<usize>()
            + self.open.heap_bytes()
            + self.ooo.capacity() * 16
    }
}

/// End (exclusive) of the block-range window that contains `t`.
pub(crate) fn chunk_end(t: i64, range: i64) -> i64 {
    t.div_euclid(range) * range + range
}

/// Merges two sorted runs; on equal timestamps the first run wins.
fn merge_into(out: &mut Vec<Sample>, a: &[Sample], b: &[Sample]) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if j >= b.len() || (i < a.len() && a[i].t <= b[j].t) {
            if j < b.len() && a[i].t == b[j].t {
                j += 1;
            }
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
}
