//! Native histogram samples of one head series: an append-only run of encoded samples, and
//! the state that decides which counter-reset hint queries see. Like Prometheus' chunked
//! storage, a sample that starts a new "chunk" reads as `Unknown`, later ones as
//! `NotCounterReset`, and all samples of a gauge run as `Gauge`.

use super::series::{SampleError, chunk_end};
use crate::histcodec;
use seer_encoding::{ByteReader, DecodeError, put_uvarint, put_varint};
use seer_model::{CounterResetHint, FloatHistogram, HistogramSample};

/// Samples per run before a new one starts (like the float chunks' 120).
const MAX_RUN: u32 = 120;

#[derive(Clone, Debug, Default)]
pub(crate) struct HistSeries {
    /// `n × ( t - previous t <varint> | histogram )`, the first delta relative to 0.
    data: Vec<u8>,
    n: u32,
    pub(crate) first_t: i64,
    pub(crate) last_t: i64,
    /// Last non-stale histogram, for reset detection.
    prev: Option<FloatHistogram>,
    prev_stale: bool,
    gauge_run: bool,
    run_len: u32,
    run_end: i64,
}

impl HistSeries {
    /// Samples held.
    pub(crate) fn len(&self) -> usize {
        self.n as usize
    }

    /// Appends a sample. `float_between` tells that a float sample of the series lies
    /// between the previous histogram and this one.
    pub(crate) fn append(
        &mut self,
        t: i64,
        mut h: FloatHistogram,
        float_between: bool,
        chunk_range: i64,
    ) -> Result<(), SampleError> {
        if self.n > 0 {
            if t == self.last_t {
                return Err(SampleError::Duplicate);
            }
            if t < self.last_t {
                return Err(SampleError::OutOfOrder);
            }
        }
        let stale = h.is_stale();
        let gauge = h.counter_reset_hint == CounterResetHint::Gauge;
        let new_run = match &self.prev {
            _ if self.n == 0 => true,
            _ if float_between || t >= self.run_end || self.run_len >= MAX_RUN => true,
            _ if stale => false,
            _ if gauge != self.gauge_run || self.prev_stale => true,
            None => true,
            Some(p) => {
                let layout_changed =
                    p.schema != h.schema || p.zero_threshold != h.zero_threshold || p.custom_values != h.custom_values;
                if self.gauge_run {
                    layout_changed
                } else {
                    h.counter_reset_hint == CounterResetHint::CounterReset || layout_changed || {
                        let mut a = h.clone();
                        a.counter_reset_hint = CounterResetHint::Unknown;
                        let mut b = p.clone();
                        b.counter_reset_hint = CounterResetHint::Unknown;
                        seer_model::histogram::detect_reset(&a, &b)
                    }
                }
            }
        };
        if new_run {
            self.gauge_run = gauge && !stale;
            self.run_len = 0;
            self.run_end = chunk_end(t, chunk_range);
        }
        self.run_len += 1;
        h.counter_reset_hint = if self.gauge_run {
            CounterResetHint::Gauge
        } else if new_run {
            CounterResetHint::Unknown
        } else {
            CounterResetHint::NotCounterReset
        };
        let prev_t = if self.n == 0 { 0 } else { self.last_t };
        put_varint(&mut self.data, t.wrapping_sub(prev_t));
        histcodec::encode(&mut self.data, &h);
        if self.n == 0 {
            self.first_t = t;
        }
        self.n += 1;
        self.last_t = t;
        self.prev_stale = stale;
        if !stale {
            self.prev = Some(h);
        }
        Ok(())
    }

    /// Decodes every sample.
    fn decode_all(&self) -> Vec<HistogramSample> {
        let mut out = Vec::with_capacity(self.n as usize);
        let mut r = ByteReader::new(&self.data);
        let mut t = 0i64;
        for _ in 0..self.n {
            let Ok(d) = r.varint() else { break };
            t = t.wrapping_add(d);
            let Ok(h) = histcodec::decode(&mut r) else { break };
            out.push(HistogramSample { t, h });
        }
        out
    }

    /// Appends the samples within `[mint, maxt]`.
    pub(crate) fn samples(&self, mint: i64, maxt: i64, out: &mut Vec<HistogramSample>) {
        if self.n == 0 || self.last_t < mint || self.first_t > maxt {
            return;
        }
        out.extend(self.decode_all().into_iter().filter(|s| s.t >= mint && s.t <= maxt));
    }

    /// Drops samples older than `cut`.
    pub(crate) fn truncate(&mut self, cut: i64) {
        if self.n == 0 || self.first_t >= cut {
            return;
        }
        let keep: Vec<HistogramSample> = self.decode_all().into_iter().filter(|s| s.t >= cut).collect();
        self.data.clear();
        self.n = 0;
        let mut prev_t = 0;
        for s in &keep {
            put_varint(&mut self.data, s.t.wrapping_sub(prev_t));
            histcodec::encode(&mut self.data, &s.h);
            prev_t = s.t;
        }
        self.n = keep.len() as u32;
        if let Some(f) = keep.first() {
            self.first_t = f.t;
        }
        self.data.shrink_to_fit();
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.data.capacity()
            + self.prev.as_ref().map(|p| 64 + 8 * (p.positive_buckets.len() + p.negative_buckets.len())).unwrap_or(0)
    }

    /// Checkpoint encoding (layout in `FORMAT.md`).
    pub(crate) fn encode_state(&self, dst: &mut Vec<u8>) {
        put_uvarint(dst, self.n as u64);
        if self.n == 0 {
            return;
        }
        put_varint(dst, self.first_t);
        put_varint(dst, self.last_t);
        put_uvarint(dst, self.data.len() as u64);
        dst.extend_from_slice(&self.data);
        dst.push(u8::from(self.prev_stale) | (u8::from(self.gauge_run) << 1));
        put_uvarint(dst, self.run_len as u64);
        put_varint(dst, self.run_end);
        match &self.prev {
            None => dst.push(0),
            Some(p) => {
                dst.push(1);
                histcodec::encode(dst, p);
            }
        }
    }

    /// Reads what [`HistSeries::encode_state`] wrote.
    pub(crate) fn decode_state(r: &mut ByteReader<'_>) -> Result<HistSeries, DecodeError> {
        let n = u32::try_from(r.uvarint()?).map_err(|_| DecodeError::Invalid("histogram count".into()))?;
        if n == 0 {
            return Ok(HistSeries::default());
        }
        let first_t = r.varint()?;
        let last_t = r.varint()?;
        let len = r.len_prefix(r.remaining())?;
        let data = r.bytes(len)?.to_vec();
        let flags = r.u8()?;
        let run_len = u32::try_from(r.uvarint()?).map_err(|_| DecodeError::Invalid("histogram run".into()))?;
        let run_end = r.varint()?;
        let prev = match r.u8()? {
            0 => None,
            1 => Some(histcodec::decode(r)?),
            _ => return Err(DecodeError::Invalid("histogram state flag".into())),
        };
        let s = HistSeries {
            data,
            n,
            first_t,
            last_t,
            prev,
            prev_stale: flags & 1 != 0,
            gauge_run: flags & 2 != 0,
            run_len,
            run_end,
        };
        if s.decode_all().len() != n as usize {
            return Err(DecodeError::Invalid("histogram samples do not decode".into()));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(count: f64) -> FloatHistogram {
        FloatHistogram { count, sum: count, ..Default::default() }
    }

    #[test]
    fn hints_follow_runs() {
        let mut s = HistSeries::default();
        for (t, c) in [(1, 5.0), (2, 6.0), (3, 2.0), (4, 3.0)] {
            s.append(t, h(c), false, 7_200_000).unwrap();
        }
        let got: Vec<CounterResetHint> = {
            let mut v = Vec::new();
            s.samples(0, 10, &mut v);
            v.into_iter().map(|x| x.h.counter_reset_hint).collect()
        };
        use CounterResetHint::*;
        assert_eq!(got, vec![Unknown, NotCounterReset, Unknown, NotCounterReset]);
        assert_eq!(s.append(4, h(3.0), false, 7_200_000), Err(SampleError::Duplicate));
        assert_eq!(s.append(3, h(3.0), false, 7_200_000), Err(SampleError::OutOfOrder));
        let mut buf = Vec::new();
        s.encode_state(&mut buf);
        let back = HistSeries::decode_state(&mut ByteReader::new(&buf)).unwrap();
        assert_eq!(back.len(), 4);
        s.truncate(3);
        assert_eq!(s.len(), 2);
    }
}
