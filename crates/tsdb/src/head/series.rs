//! One series in the head: closed chunks, the open chunk, and out-of-order samples.

use super::hseries::HistSeries;
use crate::chunk::xor::{MAX_SAMPLES, XorAppender, XorIter, XorState};
use seer_encoding::{ByteReader, DecodeError, put_uvarint, put_varint};
use seer_model::{FloatHistogram, HistogramSample, Sample};

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

/// A series' data as read from a checkpoint.
pub(crate) struct SeriesData {
    closed: Vec<ClosedChunk>,
    open: Option<(i64, XorAppender)>,
    ooo: Vec<Sample>,
    hist: HistSeries,
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
    /// Native histogram samples, if the series has any.
    hist: Option<Box<HistSeries>>,
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
            hist: None,
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
            hist: None,
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
        let floats = match (chunk, self.ooo.first()) {
            (Some(a), Some(b)) => Some(a.min(b.t)),
            (a, b) => a.or(b.map(|s| s.t)),
        };
        let hist = self.hist.as_ref().filter(|h| h.len() > 0).map(|h| h.first_t);
        match (floats, hist) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Newest sample time held.
    pub(crate) fn max_time(&self) -> Option<i64> {
        let floats = match (self.last_t(), self.ooo.last()) {
            (Some(a), Some(b)) => Some(a.max(b.t)),
            (a, b) => a.or(b.map(|s| s.t)),
        };
        let hist = self.hist.as_ref().filter(|h| h.len() > 0).map(|h| h.last_t);
        match (floats, hist) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// Newest float sample time (in order or not).
    fn last_float_t(&self) -> Option<i64> {
        match (self.last_t(), self.ooo.last()) {
            (Some(a), Some(b)) => Some(a.max(b.t)),
            (a, b) => a.or(b.map(|s| s.t)),
        }
    }

    /// Appends a native histogram sample (in order only).
    pub(crate) fn append_histogram(&mut self, t: i64, h: FloatHistogram, chunk_range: i64) -> Result<(), SampleError> {
        let last_float = self.last_float_t();
        let hs = self.hist.get_or_insert_with(Default::default);
        let float_between = hs.len() > 0 && last_float.is_some_and(|ft| ft > hs.last_t && ft < t);
        let r = hs.append(t, h, float_between, chunk_range);
        if hs.len() == 0 {
            self.hist = None;
        }
        r
    }

    /// Appends the histogram samples within `[mint, maxt]` to `out`.
    pub(crate) fn histograms(&self, mint: i64, maxt: i64, out: &mut Vec<HistogramSample>) {
        if let Some(h) = &self.hist {
            h.samples(mint, maxt, out);
        }
    }

    /// True when the series has histogram samples.
    pub(crate) fn has_histograms(&self) -> bool {
        self.hist.as_ref().is_some_and(|h| h.len() > 0)
    }

    /// Samples held (decodes the chunk headers only).
    pub(crate) fn num_samples(&self) -> usize {
        let closed: usize = self.closed.iter().map(|c| u16::from_be_bytes([c.data[0], c.data[1]]) as usize).sum();
        closed + self.open.len() as usize + self.ooo.len() + self.hist.as_ref().map(|h| h.len()).unwrap_or(0)
    }

    /// Number of chunks (closed ones plus the open one, if it has samples).
    pub(crate) fn chunk_count(&self) -> usize {
        self.closed.len()
            + usize::from(!self.open.is_empty())
            + self.hist.as_ref().map(|h| h.len().div_ceil(120)).unwrap_or(0)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.closed.is_empty() && self.open.is_empty() && self.ooo.is_empty() && !self.has_histograms()
    }

    /// Appends a sample. `Ok(true)` means it went to the out-of-order buffer.
    pub(crate) fn append(
        &mut self,
        t: i64,
        v: f64,
        head_maxt: i64,
        ooo_window: i64,
        chunk_range: i64,
    ) -> Result<bool, SampleError> {
        if let Some(last) = self.last_t() {
            if t == last {
                return if self.last_v_bits() == Some(v.to_bits()) { Ok(false) } else { Err(SampleError::Duplicate) };
            }
            if t < last {
                if ooo_window <= 0 {
                    return Err(SampleError::OutOfOrder);
                }
                if t < head_maxt.saturating_sub(ooo_window) {
                    return Err(SampleError::TooOld);
                }
                return self.insert_ooo(t, v).map(|()| true);
            }
        }
        self.append_in_order(t, v, chunk_range);
        Ok(false)
    }

    /// WAL replay of an in-order sample: samples not newer than the series' newest one are
    /// already there (restored from a checkpoint) and are skipped. Returns whether it was
    /// appended.
    pub(crate) fn replay_in_order(&mut self, t: i64, v: f64, chunk_range: i64) -> bool {
        if self.last_t().is_some_and(|last| t <= last) {
            return false;
        }
        self.append_in_order(t, v, chunk_range);
        true
    }

    /// WAL replay of an out-of-order sample.
    pub(crate) fn replay_ooo(&mut self, t: i64, v: f64) -> bool {
        self.insert_ooo(t, v).is_ok()
    }

    fn append_in_order(&mut self, t: i64, v: f64, chunk_range: i64) {
        if !self.open.is_empty() && (self.open.len() >= MAX_SAMPLES || t >= self.open_end) {
            self.close_open();
        }
        if self.open.is_empty() {
            self.open_mint = t;
            self.open_end = chunk_end(t, chunk_range);
        }
        self.open.append(t, v);
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
            let it = XorIter::new(&c.data);
            if c.mint >= mint && c.maxt <= maxt {
                out.extend(it.map(|(t, v)| Sample { t, v }));
            } else {
                out.extend(
                    it.skip_while(|&(t, _)| t < mint).take_while(|&(t, _)| t <= maxt).map(|(t, v)| Sample { t, v }),
                );
            }
        }
        if !self.open.is_empty() && self.open_mint <= maxt && self.open.last_t() >= mint {
            out.extend(
                XorIter::new(self.open.bytes())
                    .skip_while(|&(t, _)| t < mint)
                    .take_while(|&(t, _)| t <= maxt)
                    .map(|(t, v)| Sample { t, v }),
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
        if let Some(h) = &mut self.hist {
            h.truncate(cut);
            if h.len() == 0 {
                self.hist = None;
            }
        }
    }

    /// Appends the series' data (closed chunks, open chunk with its encoder state,
    /// out-of-order samples) to a checkpoint record. Layout in `FORMAT.md`.
    pub(crate) fn encode_data(&self, dst: &mut Vec<u8>) {
        put_uvarint(dst, self.closed.len() as u64);
        for c in &self.closed {
            put_varint(dst, c.mint);
            put_varint(dst, c.maxt);
            put_uvarint(dst, c.data.len() as u64);
            dst.extend_from_slice(&c.data);
        }
        if self.open.is_empty() {
            dst.push(0);
        } else {
            dst.push(1);
            let st = self.open.state();
            put_varint(dst, self.open_mint);
            put_varint(dst, st.t);
            put_varint(dst, st.t_delta);
            dst.extend_from_slice(&st.v.to_be_bytes());
            dst.extend_from_slice(&[st.leading, st.trailing, st.free]);
            let b = self.open.bytes();
            put_uvarint(dst, b.len() as u64);
            dst.extend_from_slice(b);
        }
        put_uvarint(dst, self.ooo.len() as u64);
        for s in &self.ooo {
            put_varint(dst, s.t);
            dst.extend_from_slice(&s.v.to_bits().to_be_bytes());
        }
        match &self.hist {
            Some(h) => h.encode_state(dst),
            None => put_uvarint(dst, 0),
        }
    }

    /// Reads what [`MemSeries::encode_data`] wrote.
    pub(crate) fn decode_data(r: &mut ByteReader<'_>) -> Result<SeriesData, DecodeError> {
        let bad = |what: &str| DecodeError::Invalid(format!("checkpoint series data: {what}"));
        let n = r.len_prefix(r.remaining())?;
        let mut closed = Vec::with_capacity(n);
        for _ in 0..n {
            let mint = r.varint()?;
            let maxt = r.varint()?;
            let len = r.len_prefix(r.remaining())?;
            let data: Box<[u8]> = r.bytes(len)?.into();
            if data.len() < 2 || maxt < mint {
                return Err(bad("invalid closed chunk"));
            }
            closed.push(ClosedChunk { mint, maxt, data });
        }
        let open = match r.u8()? {
            0 => None,
            1 => {
                let mint = r.varint()?;
                let t = r.varint()?;
                let t_delta = r.varint()?;
                let v = r.u64_be()?;
                let b = r.bytes(3)?;
                let (leading, trailing, free) = (b[0], b[1], b[2]);
                let len = r.len_prefix(r.remaining())?;
                let bytes = r.bytes(len)?.to_vec();
                let num = if bytes.len() >= 2 { u16::from_be_bytes([bytes[0], bytes[1]]) } else { 0 };
                let st = XorState { num, t, t_delta, v, leading, trailing, free };
                let app = XorAppender::from_state(bytes, st).ok_or_else(|| bad("invalid open chunk"))?;
                Some((mint, app))
            }
            _ => return Err(bad("invalid open chunk flag")),
        };
        let n = r.len_prefix(r.remaining())?;
        let mut ooo = Vec::with_capacity(n);
        for _ in 0..n {
            let t = r.varint()?;
            let v = f64::from_bits(r.u64_be()?);
            ooo.push(Sample { t, v });
        }
        let hist = HistSeries::decode_state(r)?;
        Ok(SeriesData { closed, open, ooo, hist })
    }

    /// Replaces the series' data by restored data, dropping what is older than `min_valid`.
    pub(crate) fn restore(&mut self, d: SeriesData, min_valid: i64, chunk_range: i64) {
        self.closed = d.closed.into_iter().filter(|c| c.maxt >= min_valid).collect();
        self.open = XorAppender::empty();
        if let Some((mint, app)) = d.open
            && app.last_t() >= min_valid
            && self.closed.last().is_none_or(|c| c.maxt < mint)
        {
            self.open_mint = mint;
            self.open_end = chunk_end(mint, chunk_range);
            self.open = app;
        }
        let mut ooo: Vec<Sample> = d.ooo.into_iter().filter(|s| s.t >= min_valid).collect();
        ooo.sort_by_key(|s| s.t);
        ooo.dedup_by_key(|s| s.t);
        self.ooo = ooo;
        let mut hist = d.hist;
        hist.truncate(min_valid);
        self.hist = if hist.len() > 0 { Some(Box::new(hist)) } else { None };
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.labels.len() * 4
            + self.closed.capacity() * std::mem::size_of::<ClosedChunk>()
            + self.closed.iter().map(|c| c.data.len()).sum::<usize>()
            + self.open.heap_bytes()
            + self.ooo.capacity() * 16
            + self.hist.as_ref().map(|h| h.heap_bytes() + 96).unwrap_or(0)
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
