//! Gorilla-style float chunk: delta-of-delta timestamps and XOR-ed values in a bit stream
//! (Pelkonen et al., "Gorilla: A Fast, Scalable, In-Memory Time Series Database", VLDB 2015),
//! with the timestamp bucket widths Prometheus uses for millisecond timestamps.
//!
//! Layout of a chunk's bytes (described in `FORMAT.md`, section "Head chunks"):
//! `num_samples <u16 BE>` followed by the bit stream. Chunks live in memory and in the
//! WAL-free head only; blocks re-encode samples with [`super::columnar`].

use seer_encoding::{BitReader, BitWriter, DecodeError, unzigzag, zigzag};

/// Most samples a head chunk holds before a new one is started.
pub const MAX_SAMPLES: u16 = 120;

/// Bytes of slack kept when growing the buffer: enough for one worst-case sample.
const GROW: usize = 24;

/// An appendable chunk.
#[derive(Clone, Debug)]
pub struct XorAppender {
    bits: BitWriter,
    num: u16,
    t: i64,
    t_delta: i64,
    v: u64,
    leading: u8,
    trailing: u8,
}

/// The encoder state of an open chunk beyond its bytes, so that a chunk can be written to a
/// checkpoint and resumed exactly after a restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XorState {
    /// Samples in the chunk.
    pub num: u16,
    /// Last timestamp.
    pub t: i64,
    /// Last timestamp delta.
    pub t_delta: i64,
    /// Last value bits.
    pub v: u64,
    /// Leading zeros of the current XOR window (0xff: none yet).
    pub leading: u8,
    /// Trailing zeros of the current XOR window.
    pub trailing: u8,
    /// Unused low bits in the last byte.
    pub free: u8,
}

impl Default for XorAppender {
    fn default() -> Self {
        Self::new()
    }
}

impl XorAppender {
    /// An empty chunk.
    pub fn new() -> XorAppender {
        XorAppender::with_capacity(0)
    }

    /// A placeholder that holds no allocation; appending to it allocates.
    pub fn empty() -> XorAppender {
        XorAppender {
            bits: BitWriter::from_parts(Vec::new(), 0),
            num: 0,
            t: 0,
            t_delta: 0,
            v: 0,
            leading: 0xff,
            trailing: 0,
        }
    }

    /// An empty chunk with room for about `bytes` bytes (e.g. the size of the series'
    /// previous chunk), so that it rarely needs to grow.
    pub fn with_capacity(bytes: usize) -> XorAppender {
        let mut buf = Vec::with_capacity(bytes.max(GROW) + 2);
        buf.extend_from_slice(&[0, 0]);
        XorAppender { bits: BitWriter::from_parts(buf, 0), num: 0, t: 0, t_delta: 0, v: 0, leading: 0xff, trailing: 0 }
    }

    /// The encoder state (see [`XorState`]).
    pub fn state(&self) -> XorState {
        XorState {
            num: self.num,
            t: self.t,
            t_delta: self.t_delta,
            v: self.v,
            leading: self.leading,
            trailing: self.trailing,
            free: self.bits.free_bits(),
        }
    }

    /// Resumes a chunk from its bytes and state. Returns `None` when they do not fit
    /// together (damaged input).
    pub fn from_state(bytes: Vec<u8>, st: XorState) -> Option<XorAppender> {
        if bytes.len() < 2 || st.free > 7 || u16::from_be_bytes([bytes[0], bytes[1]]) != st.num || st.num == 0 {
            return None;
        }
        if st.leading != 0xff && (st.leading > 31 || st.trailing > 63) {
            return None;
        }
        Some(XorAppender {
            bits: BitWriter::from_parts(bytes, st.free),
            num: st.num,
            t: st.t,
            t_delta: st.t_delta,
            v: st.v,
            leading: st.leading,
            trailing: st.trailing,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> u16 {
        self.num
    }

    /// True when no sample was appended.
    pub fn is_empty(&self) -> bool {
        self.num == 0
    }

    /// Timestamp of the last sample (meaningless when empty).
    pub fn last_t(&self) -> i64 {
        self.t
    }

    /// Value of the last sample (meaningless when empty).
    pub fn last_v(&self) -> f64 {
        f64::from_bits(self.v)
    }

    /// The encoded bytes so far, a valid chunk.
    pub fn bytes(&self) -> &[u8] {
        self.bits.bytes()
    }

    /// Heap bytes held by the buffer.
    pub fn heap_bytes(&self) -> usize {
        self.bits.capacity()
    }

    /// Freezes the chunk into an exactly-sized byte slice.
    pub fn finish(self) -> Box<[u8]> {
        let (buf, _) = self.bits.into_parts();
        buf.into_boxed_slice()
    }

    /// Appends a sample. The caller guarantees `t` is greater than the last timestamp.
    pub fn append(&mut self, t: i64, v: f64) {
        let buf = self.bits.buf_mut();
        if buf.is_empty() {
            buf.extend_from_slice(&[0, 0]);
        }
        if buf.capacity() - buf.len() < GROW {
            // Grow by small steps: head chunks are many and small, and doubling would
            // waste up to half of every one of them.
            let extra = GROW.max(buf.len() / 4);
            buf.reserve_exact(extra);
        }
        let v_bits = v.to_bits();
        match self.num {
            0 => {
                self.write_uvarint(zigzag(t));
                self.bits.write_bits(v_bits, 64);
            }
            1 => {
                let delta = t - self.t;
                self.write_uvarint(zigzag(delta));
                self.write_value(v_bits);
                self.t_delta = delta;
            }
            _ => {
                let delta = t - self.t;
                let dod = delta - self.t_delta;
                if dod == 0 {
                    self.bits.write_bit(false);
                } else if fits_signed(dod, 14) {
                    self.bits.write_bits(0b10, 2);
                    self.bits.write_bits(dod as u64, 14);
                } else if fits_signed(dod, 17) {
                    self.bits.write_bits(0b110, 3);
                    self.bits.write_bits(dod as u64, 17);
                } else if fits_signed(dod, 20) {
                    self.bits.write_bits(0b1110, 4);
                    self.bits.write_bits(dod as u64, 20);
                } else {
                    self.bits.write_bits(0b1111, 4);
                    self.bits.write_bits(dod as u64, 64);
                }
                self.write_value(v_bits);
                self.t_delta = delta;
            }
        }
        self.t = t;
        self.v = v_bits;
        self.num += 1;
        let n = self.num.to_be_bytes();
        let buf = self.bits.buf_mut();
        buf[0] = n[0];
        buf[1] = n[1];
    }

    /// An unsigned LEB128 varint written as 8-bit groups into the bit stream.
    fn write_uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.bits.write_bits((v & 0x7f) | 0x80, 8);
            v >>= 7;
        }
        self.bits.write_bits(v, 8);
    }

    fn write_value(&mut self, v: u64) {
        let x = v ^ self.v;
        if x == 0 {
            self.bits.write_bit(false);
            return;
        }
        self.bits.write_bit(true);
        let mut leading = x.leading_zeros() as u8;
        let trailing = x.trailing_zeros() as u8;
        // 5 bits hold the leading-zero count.
        if leading >= 32 {
            leading = 31;
        }
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.bits.write_bit(false);
            let sig = 64 - self.leading - self.trailing;
            self.bits.write_bits(x >> self.trailing, sig);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        self.bits.write_bit(true);
        self.bits.write_bits(leading as u64, 5);
        let sig = 64 - leading - trailing;
        // 64 significant bits are stored as 0: they cannot occur with 6 bits otherwise.
        self.bits.write_bits((sig & 0x3f) as u64, 6);
        self.bits.write_bits(x >> trailing, sig);
    }
}

fn fits_signed(v: i64, bits: u8) -> bool {
    let min = -(1i64 << (bits - 1)) + 1;
    let max = 1i64 << (bits - 1);
    v >= min && v <= max
}

/// Sign-extends the low `bits` bits of `v`, treating the all-ones-top pattern as Prometheus
/// does (a value of exactly `1 << (bits-1)` is positive).
fn from_signed_bits(v: u64, bits: u8) -> i64 {
    if v > (1u64 << (bits - 1)) { v as i64 - (1i64 << bits) } else { v as i64 }
}

/// Decodes a chunk's samples in order.
#[derive(Clone, Debug)]
pub struct XorIter<'a> {
    r: BitReader<'a>,
    total: u16,
    read: u16,
    t: i64,
    t_delta: i64,
    v: u64,
    leading: u8,
    trailing: u8,
    err: Option<DecodeError>,
}

impl<'a> XorIter<'a> {
    /// Iterates the samples of `chunk` (bytes as produced by [`XorAppender`]).
    pub fn new(chunk: &'a [u8]) -> XorIter<'a> {
        let (total, rest) =
            if chunk.len() >= 2 { (u16::from_be_bytes([chunk[0], chunk[1]]), &chunk[2..]) } else { (0, &chunk[..0]) };
        XorIter { r: BitReader::new(rest), total, read: 0, t: 0, t_delta: 0, v: 0, leading: 0, trailing: 0, err: None }
    }

    fn read_uvarint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = self.r.read_bits(8)?;
            if shift > 63 {
                return Err(DecodeError::Invalid("varint overflow in chunk".into()));
            }
            v |= (b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    fn step(&mut self) -> Result<(i64, f64), DecodeError> {
        match self.read {
            0 => {
                self.t = unzigzag(self.read_uvarint()?);
                self.v = self.r.read_bits(64)?;
            }
            1 => {
                self.t_delta = unzigzag(self.read_uvarint()?);
                self.t = self.t.wrapping_add(self.t_delta);
                self.read_value()?;
            }
            _ => {
                let mut prefix = 0u8;
                for _ in 0..4 {
                    if !self.r.read_bit()? {
                        break;
                    }
                    prefix += 1;
                }
                let dod = match prefix {
                    0 => 0,
                    1 => from_signed_bits(self.r.read_bits(14)?, 14),
                    2 => from_signed_bits(self.r.read_bits(17)?, 17),
                    3 => from_signed_bits(self.r.read_bits(20)?, 20),
                    _ => self.r.read_bits(64)? as i64,
                };
                self.t_delta = self.t_delta.wrapping_add(dod);
                self.t = self.t.wrapping_add(self.t_delta);
                self.read_value()?;
            }
        }
        self.read += 1;
        Ok((self.t, f64::from_bits(self.v)))
    }

    fn read_value(&mut self) -> Result<(), DecodeError> {
        if !self.r.read_bit()? {
            return Ok(());
        }
        if self.r.read_bit()? {
            self.leading = self.r.read_bits(5)? as u8;
            let mut sig = self.r.read_bits(6)? as u8;
            if sig == 0 {
                sig = 64;
            }
            if self.leading as u32 + sig as u32 > 64 {
                return Err(DecodeError::Invalid("bad xor window in chunk".into()));
            }
            self.trailing = 64 - self.leading - sig;
        }
        let sig = 64 - self.leading - self.trailing;
        let bits = self.r.read_bits(sig)?;
        self.v ^= if self.trailing >= 64 { 0 } else { bits << self.trailing };
        Ok(())
    }
}

impl Iterator for XorIter<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        if self.read >= self.total || self.err.is_some() {
            return None;
        }
        match self.step() {
            Ok(s) => Some(s),
            Err(e) => {
                self.err = Some(e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(samples: &[(i64, f64)]) {
        let mut a = XorAppender::new();
        for &(t, v) in samples {
            a.append(t, v);
        }
        let bytes = a.bytes().to_vec();
        let got: Vec<(i64, u64)> = XorIter::new(&bytes).map(|(t, v)| (t, v.to_bits())).collect();
        let want: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(got, want);
        let fin = a.finish();
        assert_eq!(&fin[..], &bytes[..]);
    }

    #[test]
    fn regular_series() {
        let s: Vec<(i64, f64)> = (0..120).map(|i| (1_700_000_000_000 + i * 15_000, (i * 7) as f64)).collect();
        round_trip(&s);
    }

    #[test]
    fn irregular_timestamps_and_special_values() {
        let vals =
            [0.0, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, seer_model::stale_nan(), 1e300, -1e-300, 0.1, 0.1];
        let mut t = -5_000i64;
        let mut s = Vec::new();
        let gaps = [1i64, 15_000, 15_001, 14_000, 1 << 13, 1 << 16, 1 << 19, 1 << 30, 1 << 40, 3];
        for (i, v) in vals.iter().enumerate() {
            t += gaps[i];
            s.push((t, *v));
        }
        round_trip(&s);
    }

    #[test]
    fn bucket_boundaries() {
        for bits in [14u8, 17, 20] {
            let edge = 1i64 << (bits - 1);
            for dod in [edge, edge + 1, -edge + 1, -edge, -edge - 1] {
                let base = 1_000_000i64;
                let s = vec![(0, 1.0), (base, 2.0), (2 * base + dod, 3.0), (3 * base + 2 * dod, 4.0)];
                round_trip(&s);
            }
        }
    }

    #[test]
    fn random_series() {
        let mut x: u64 = 7;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200 {
            let n = (next() % 120) as usize + 1;
            let mut t = (next() % 1_000_000) as i64;
            let mut s = Vec::new();
            for _ in 0..n {
                t += (next() % 100_000) as i64 + 1;
                let v = match next() % 4 {
                    0 => f64::from_bits(next()),
                    1 => (next() % 1000) as f64,
                    2 => (next() % 1000) as f64 / 100.0,
                    _ => s.last().map(|&(_, v)| v).unwrap_or(0.0),
                };
                s.push((t, v));
            }
            round_trip(&s);
        }
    }

    #[test]
    fn resume_from_state() {
        let s: Vec<(i64, f64)> = (0..50).map(|i| (i * 15_000 + (i % 3), (i * i) as f64 / 7.0)).collect();
        let mut a = XorAppender::new();
        for &(t, v) in &s[..20] {
            a.append(t, v);
        }
        let mut b = XorAppender::from_state(a.bytes().to_vec(), a.state()).unwrap();
        for &(t, v) in &s[20..] {
            a.append(t, v);
            b.append(t, v);
        }
        assert_eq!(a.bytes(), b.bytes());
        assert!(
            XorAppender::from_state(
                vec![0, 5],
                XorState { num: 4, t: 0, t_delta: 0, v: 0, leading: 0, trailing: 0, free: 0 }
            )
            .is_none()
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u64 = 99;
        for len in 0..300 {
            let mut buf = vec![0xffu8, 0xff];
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(x as u8);
            }
            let it = XorIter::new(&buf);
            let _ = it.count();
        }
    }

    #[test]
    fn compresses_regular_counters_well() {
        let mut a = XorAppender::new();
        for i in 0..120 {
            a.append(1_700_000_000_000 + i * 15_000, (i * 3) as f64);
        }
        // About 1-3 bytes per sample for a slowly rising counter.
        assert!(a.bytes().len() < 120 * 3, "{}", a.bytes().len());
    }
}
