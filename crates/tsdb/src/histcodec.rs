//! Binary encoding of one native histogram sample, shared by WAL records, head storage,
//! checkpoints and blocks. Layout in `FORMAT.md`, section "Native histograms".

use seer_encoding::{ByteReader, DecodeError, put_uvarint, put_varint};
use seer_model::{BucketSpan, CounterResetHint, FloatHistogram};

fn put_f64(dst: &mut Vec<u8>, v: f64) {
    dst.extend_from_slice(&v.to_bits().to_be_bytes());
}

fn put_spans(dst: &mut Vec<u8>, spans: &[BucketSpan]) {
    put_uvarint(dst, spans.len() as u64);
    for s in spans {
        put_varint(dst, s.offset as i64);
        put_uvarint(dst, s.length as u64);
    }
}

fn put_floats(dst: &mut Vec<u8>, v: &[f64]) {
    put_uvarint(dst, v.len() as u64);
    for &x in v {
        put_f64(dst, x);
    }
}

/// Appends the encoding of `h`.
pub(crate) fn encode(dst: &mut Vec<u8>, h: &FloatHistogram) {
    dst.push(match h.counter_reset_hint {
        CounterResetHint::Unknown => 0,
        CounterResetHint::CounterReset => 1,
        CounterResetHint::NotCounterReset => 2,
        CounterResetHint::Gauge => 3,
    });
    put_varint(dst, h.schema as i64);
    put_f64(dst, h.zero_threshold);
    put_f64(dst, h.zero_count);
    put_f64(dst, h.count);
    put_f64(dst, h.sum);
    put_spans(dst, &h.positive_spans);
    put_floats(dst, &h.positive_buckets);
    put_spans(dst, &h.negative_spans);
    put_floats(dst, &h.negative_buckets);
    put_floats(dst, &h.custom_values);
}

fn read_spans(r: &mut ByteReader<'_>) -> Result<Vec<BucketSpan>, DecodeError> {
    let n = r.len_prefix(r.remaining())?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let offset = i32::try_from(r.varint()?).map_err(|_| DecodeError::Invalid("span offset out of range".into()))?;
        let length =
            u32::try_from(r.uvarint()?).map_err(|_| DecodeError::Invalid("span length out of range".into()))?;
        out.push(BucketSpan { offset, length });
    }
    Ok(out)
}

fn read_floats(r: &mut ByteReader<'_>) -> Result<Vec<f64>, DecodeError> {
    let n = r.len_prefix(r.remaining() / 8)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(f64::from_bits(r.u64_be()?));
    }
    Ok(out)
}

/// Reads what [`encode`] wrote.
pub(crate) fn decode(r: &mut ByteReader<'_>) -> Result<FloatHistogram, DecodeError> {
    let counter_reset_hint = match r.u8()? {
        0 => CounterResetHint::Unknown,
        1 => CounterResetHint::CounterReset,
        2 => CounterResetHint::NotCounterReset,
        3 => CounterResetHint::Gauge,
        k => return Err(DecodeError::Invalid(format!("histogram hint {k}"))),
    };
    let schema = i32::try_from(r.varint()?).map_err(|_| DecodeError::Invalid("histogram schema".into()))?;
    let zero_threshold = f64::from_bits(r.u64_be()?);
    let zero_count = f64::from_bits(r.u64_be()?);
    let count = f64::from_bits(r.u64_be()?);
    let sum = f64::from_bits(r.u64_be()?);
    let positive_spans = read_spans(r)?;
    let positive_buckets = read_floats(r)?;
    let negative_spans = read_spans(r)?;
    let negative_buckets = read_floats(r)?;
    let custom_values = read_floats(r)?;
    let spanned = |s: &[BucketSpan]| s.iter().map(|x| x.length as u64).sum::<u64>();
    if spanned(&positive_spans) != positive_buckets.len() as u64
        || spanned(&negative_spans) != negative_buckets.len() as u64
    {
        return Err(DecodeError::Invalid("histogram spans do not match the buckets".into()));
    }
    Ok(FloatHistogram {
        counter_reset_hint,
        schema,
        zero_threshold,
        zero_count,
        count,
        sum,
        positive_spans,
        negative_spans,
        positive_buckets,
        negative_buckets,
        custom_values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let h = FloatHistogram {
            counter_reset_hint: CounterResetHint::Gauge,
            schema: -2,
            zero_threshold: 0.001,
            zero_count: 1.5,
            count: 10.0,
            sum: -3.25,
            positive_spans: vec![BucketSpan { offset: -2, length: 2 }, BucketSpan { offset: 3, length: 1 }],
            positive_buckets: vec![1.0, 2.0, 3.0],
            negative_spans: vec![BucketSpan { offset: 0, length: 1 }],
            negative_buckets: vec![f64::NAN],
            custom_values: vec![],
        };
        let mut buf = Vec::new();
        encode(&mut buf, &h);
        let got = decode(&mut ByteReader::new(&buf)).unwrap();
        assert_eq!(format!("{got:?}"), format!("{h:?}"));
        assert!(decode(&mut ByteReader::new(&buf[..buf.len() - 1])).is_err());
    }
}
