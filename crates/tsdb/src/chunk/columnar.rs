//! Block sample encoding: one run per series and block, timestamps and values in separate
//! streams, built to be compressed well by the page compressor that follows (zstd).
//!
//! Timestamps are delta-of-delta varints (a regular scrape interval gives a run of zero
//! bytes). Values are, in order of preference: one constant; decimal mantissas with a shared
//! exponent stored as zigzag deltas (counters, integer gauges and values with a few decimal
//! digits, which is most real data; idea from VictoriaMetrics); or the XOR of each value with
//! the previous one as 8 big-endian bytes. Values the decimal form cannot represent exactly
//! (NaN, staleness markers, infinities, -0.0, very large numbers) are stored as exceptions
//! with their raw bits, so decoding is always bit-exact. Layout in `FORMAT.md`.

use seer_encoding::{ByteReader, DecodeError, put_uvarint, put_varint};
use seer_model::Sample;

const KIND_CONST: u8 = 0;
const KIND_DECIMAL: u8 = 1;
const KIND_XOR: u8 = 2;

/// Largest decimal exponent tried (10^15 keeps mantissas of typical values below 2^53).
const MAX_EXP: usize = 15;
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];
const MAX_EXACT: f64 = 9_007_199_254_740_992.0; // 2^53

/// Appends the encoding of `samples` (sorted by time, unique timestamps) to `dst`.
pub fn encode(samples: &[Sample], dst: &mut Vec<u8>) {
    put_uvarint(dst, samples.len() as u64);
    if samples.is_empty() {
        return;
    }
    // Timestamps.
    put_varint(dst, samples[0].t);
    let mut prev_t = samples[0].t;
    let mut prev_d = 0i64;
    for (i, s) in samples.iter().enumerate().skip(1) {
        let d = s.t.wrapping_sub(prev_t);
        if i == 1 {
            put_varint(dst, d);
        } else {
            put_varint(dst, d.wrapping_sub(prev_d));
        }
        prev_d = d;
        prev_t = s.t;
    }
    // Values.
    let first = samples[0].v.to_bits();
    if samples.iter().all(|s| s.v.to_bits() == first) {
        dst.push(KIND_CONST);
        dst.extend_from_slice(&first.to_be_bytes());
        return;
    }
    if encode_decimal(samples, dst) {
        return;
    }
    dst.push(KIND_XOR);
    let mut prev = 0u64;
    for s in samples {
        let b = s.v.to_bits();
        dst.extend_from_slice(&(b ^ prev).to_be_bytes());
        prev = b;
    }
}

/// Smallest exponent `k` with `v = m / 10^k` exactly for an integer `m` below 2^53.
fn decimal_exponent(v: f64) -> Option<usize> {
    if !v.is_finite() || (v == 0.0 && v.is_sign_negative()) {
        return None;
    }
    for (k, p) in POW10.iter().enumerate().take(MAX_EXP + 1) {
        let m = (v * p).round();
        if m.abs() < MAX_EXACT && (m / p).to_bits() == v.to_bits() {
            return Some(k);
        }
    }
    None
}

fn encode_decimal(samples: &[Sample], dst: &mut Vec<u8>) -> bool {
    let mut exps: Vec<Option<usize>> = Vec::with_capacity(samples.len());
    let mut k_max = 0;
    let mut exceptions = 0;
    for s in samples {
        let k = decimal_exponent(s.v);
        match k {
            Some(k) => k_max = k_max.max(k),
            None => exceptions += 1,
        }
        exps.push(k);
    }
    if exceptions * 4 > samples.len() {
        return false;
    }
    let p = POW10[k_max];
    let mut mantissas = Vec::with_capacity(samples.len());
    let mut exc: Vec<(usize, u64)> = Vec::new();
    let mut last_m = 0i64;
    for (i, s) in samples.iter().enumerate() {
        let ok = exps[i].and_then(|_| {
            let m = (s.v * p).round();
            if m.abs() < MAX_EXACT && (m / p).to_bits() == s.v.to_bits() { Some(m as i64) } else { None }
        });
        match ok {
            Some(m) => {
                mantissas.push(m);
                last_m = m;
            }
            None => {
                exc.push((i, s.v.to_bits()));
                mantissas.push(last_m);
            }
        }
    }
    if exc.len() * 4 > samples.len() {
        return false;
    }
    dst.push(KIND_DECIMAL);
    dst.push(k_max as u8);
    let mut prev = 0i64;
    for m in mantissas {
        put_varint(dst, m.wrapping_sub(prev));
        prev = m;
    }
    put_uvarint(dst, exc.len() as u64);
    let mut prev_i = 0usize;
    for (i, bits) in exc {
        put_uvarint(dst, (i - prev_i) as u64);
        dst.extend_from_slice(&bits.to_be_bytes());
        prev_i = i;
    }
    true
}

/// Decodes one run written by [`encode`] from `r`, appending samples to `out`.
pub fn decode(r: &mut ByteReader<'_>, out: &mut Vec<Sample>) -> Result<(), DecodeError> {
    // Every sample takes at least one byte, which bounds a hostile count.
    let n = r.len_prefix(r.remaining())?;
    if n == 0 {
        return Ok(());
    }
    let start = out.len();
    out.reserve(n);
    let mut t = r.varint()?;
    out.push(Sample { t, v: 0.0 });
    let mut d = 0i64;
    for i in 1..n {
        let x = r.varint()?;
        if i == 1 {
            d = x;
        } else {
            d = d.wrapping_add(x);
        }
        t = t.wrapping_add(d);
        out.push(Sample { t, v: 0.0 });
    }
    let vals = &mut out[start..];
    match r.u8()? {
        KIND_CONST => {
            let v = f64::from_bits(r.u64_be()?);
            for s in vals.iter_mut() {
                s.v = v;
            }
        }
        KIND_DECIMAL => {
            let k = r.u8()? as usize;
            if k >= POW10.len() {
                return Err(DecodeError::Invalid(format!("decimal exponent {k} out of range")));
            }
            let p = POW10[k];
            let mut m = 0i64;
            for s in vals.iter_mut() {
                m = m.wrapping_add(r.varint()?);
                s.v = m as f64 / p;
            }
            let ne = r.len_prefix(n)?;
            let mut i = 0usize;
            for _ in 0..ne {
                i = i.saturating_add(r.len_prefix(n)?);
                let bits = r.u64_be()?;
                match vals.get_mut(i) {
                    Some(s) => s.v = f64::from_bits(bits),
                    None => return Err(DecodeError::Invalid("exception index out of range".into())),
                }
            }
        }
        KIND_XOR => {
            let mut prev = 0u64;
            for s in vals.iter_mut() {
                prev ^= r.u64_be()?;
                s.v = f64::from_bits(prev);
            }
        }
        k => return Err(DecodeError::Invalid(format!("unknown value encoding {k}"))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(samples: &[Sample]) -> usize {
        let mut buf = vec![0xAA]; // encode must append after a prefix
        encode(samples, &mut buf);
        buf.push(0xBB); // and decode must leave a suffix alone
        let mut r = ByteReader::new(&buf[1..]);
        let mut out = Vec::new();
        decode(&mut r, &mut out).unwrap();
        assert_eq!(r.rest(), &[0xBB]);
        assert_eq!(out.len(), samples.len());
        for (a, b) in out.iter().zip(samples) {
            assert_eq!(a.t, b.t);
            assert_eq!(a.v.to_bits(), b.v.to_bits(), "{} vs {}", a.v, b.v);
        }
        buf.len() - 2
    }

    fn series(vals: impl IntoIterator<Item = f64>) -> Vec<Sample> {
        vals.into_iter().enumerate().map(|(i, v)| Sample { t: 1_700_000_000_000 + i as i64 * 15_000, v }).collect()
    }

    #[test]
    fn empty_and_constant() {
        assert_eq!(rt(&[]), 1);
        rt(&series([5.0; 100]));
    }

    #[test]
    fn counters_are_small() {
        let mut v = 1000.0;
        let s = series((0..480).map(|i| {
            v += (i % 7) as f64;
            v
        }));
        let n = rt(&s);
        assert!(n < 480 * 3, "{n}");
    }

    #[test]
    fn decimals_and_exceptions() {
        let s = series([
            0.1,
            0.25,
            3.125,
            f64::NAN,
            seer_model::stale_nan(),
            7.0,
            -0.0,
            1e300,
            12.5,
            0.3,
            0.7,
            0.9,
            1.1,
            1.3,
        ]);
        rt(&s);
    }

    #[test]
    fn random_floats_fall_back_to_xor() {
        let mut x: u64 = 1;
        let s = series((0..200).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        }));
        rt(&s);
    }

    #[test]
    fn irregular_times() {
        let s: Vec<Sample> = [(-5, 1.0), (0, 2.0), (1, 3.0), (1 << 40, 4.0), ((1 << 40) + 1, 5.0)]
            .into_iter()
            .map(|(t, v)| Sample { t, v })
            .collect();
        rt(&s);
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u64 = 3;
        for len in 0..400 {
            let mut buf = Vec::new();
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(x as u8);
            }
            let mut out = Vec::new();
            let _ = decode(&mut ByteReader::new(&buf), &mut out);
        }
    }
}
