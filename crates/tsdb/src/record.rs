//! The metrics store's WAL record types (the WAL itself only frames opaque bytes).
//! Layouts are in `FORMAT.md`, section "WAL records".

use crate::head::{MemSeries, SeriesData};
use seer_encoding::{ByteReader, DecodeError, put_uvarint, put_varint};
use seer_model::{Label, Labels, MetricMetadata, MetricType};

const SERIES: u8 = 1;
const SAMPLES: u8 = 2;
const EXEMPLARS: u8 = 3;
const METADATA: u8 = 4;
const OOO_SAMPLES: u8 = 5;
const SERIES_STATE: u8 = 6;
const HISTOGRAMS: u8 = 7;

/// A series definition: the id used by later records, and its labels.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeriesRecord {
    pub id: u32,
    pub labels: Labels,
}

/// One sample of a samples record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RefSample {
    pub id: u32,
    pub t: i64,
    pub v: f64,
}

/// One exemplar of an exemplars record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RefExemplar {
    pub id: u32,
    pub t: i64,
    pub v: f64,
    pub labels: Labels,
}

/// One native histogram sample of a histograms record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RefHistogram {
    pub id: u32,
    pub t: i64,
    pub h: seer_model::FloatHistogram,
}

/// A series with its head data, as a checkpoint stores it.
pub(crate) struct SeriesStateRecord {
    pub id: u32,
    pub labels: Labels,
    pub data: SeriesData,
}

/// A decoded record.
pub(crate) enum Record {
    Series(Vec<SeriesRecord>),
    /// In-order samples.
    Samples(Vec<RefSample>),
    /// Samples accepted out of order (into a series' out-of-order buffer).
    OooSamples(Vec<RefSample>),
    Exemplars(Vec<RefExemplar>),
    Metadata(Vec<MetricMetadata>),
    /// Checkpoint: series definitions with their data.
    SeriesState(Vec<SeriesStateRecord>),
    /// Native histogram samples.
    Histograms(Vec<RefHistogram>),
}

fn put_str(dst: &mut Vec<u8>, s: &str) {
    put_uvarint(dst, s.len() as u64);
    dst.extend_from_slice(s.as_bytes());
}

fn put_labels(dst: &mut Vec<u8>, labels: &Labels) {
    put_uvarint(dst, labels.len() as u64);
    for l in labels {
        put_str(dst, &l.name);
        put_str(dst, &l.value);
    }
}

/// Appends a native histograms record.
pub(crate) fn encode_histograms(dst: &mut Vec<u8>, hs: &[RefHistogram]) {
    dst.push(HISTOGRAMS);
    put_uvarint(dst, hs.len() as u64);
    for h in hs {
        put_uvarint(dst, h.id as u64);
        put_varint(dst, h.t);
        crate::histcodec::encode(dst, &h.h);
    }
}

/// Appends a series record.
pub(crate) fn encode_series(dst: &mut Vec<u8>, series: &[(u32, &Labels)]) {
    dst.push(SERIES);
    put_uvarint(dst, series.len() as u64);
    for (id, labels) in series {
        put_uvarint(dst, *id as u64);
        put_labels(dst, labels);
    }
}

/// Appends a samples record; `ooo` marks samples that were accepted out of order.
pub(crate) fn encode_samples(dst: &mut Vec<u8>, samples: &[RefSample], ooo: bool) {
    dst.push(if ooo { OOO_SAMPLES } else { SAMPLES });
    put_uvarint(dst, samples.len() as u64);
    let Some(first) = samples.first() else { return };
    let base_t = first.t;
    put_varint(dst, base_t);
    let mut prev_id = 0i64;
    for s in samples {
        put_varint(dst, s.id as i64 - prev_id);
        prev_id = s.id as i64;
        put_varint(dst, s.t.wrapping_sub(base_t));
        dst.extend_from_slice(&s.v.to_bits().to_be_bytes());
    }
}

/// Appends an exemplars record.
pub(crate) fn encode_exemplars(dst: &mut Vec<u8>, exemplars: &[RefExemplar]) {
    dst.push(EXEMPLARS);
    put_uvarint(dst, exemplars.len() as u64);
    for e in exemplars {
        put_uvarint(dst, e.id as u64);
        put_varint(dst, e.t);
        dst.extend_from_slice(&e.v.to_bits().to_be_bytes());
        put_labels(dst, &e.labels);
    }
}

/// Appends a metadata record.
pub(crate) fn encode_metadata(dst: &mut Vec<u8>, metadata: &[MetricMetadata]) {
    dst.push(METADATA);
    put_uvarint(dst, metadata.len() as u64);
    for m in metadata {
        put_str(dst, &m.metric_family);
        put_str(dst, m.kind.as_str());
        put_str(dst, &m.help);
        put_str(dst, &m.unit);
    }
}

/// Appends one entry of a series-state record (see [`series_state_record`]).
pub(crate) fn encode_series_state_entry<'a>(
    dst: &mut Vec<u8>,
    id: u32,
    labels: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    series: &MemSeries,
) {
    put_uvarint(dst, id as u64);
    put_uvarint(dst, labels.len() as u64);
    for (n, v) in labels {
        put_str(dst, n);
        put_str(dst, v);
    }
    series.encode_data(dst);
}

/// A series-state record made of `count` entries.
pub(crate) fn series_state_record(entries: &[u8], count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() + 12);
    out.push(SERIES_STATE);
    put_uvarint(&mut out, count as u64);
    out.extend_from_slice(entries);
    out
}

fn read_labels(r: &mut ByteReader<'_>) -> Result<Labels, DecodeError> {
    let n = r.len_prefix(r.remaining())?;
    let mut pairs = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let name = r.str()?.to_string();
        let value = r.str()?.to_string();
        pairs.push(Label { name, value });
    }
    Labels::from_pairs_checked(pairs).map_err(|n| DecodeError::Invalid(format!("duplicate label {n:?} in record")))
}

fn read_id(r: &mut ByteReader<'_>) -> Result<u32, DecodeError> {
    let v = r.uvarint()?;
    u32::try_from(v).map_err(|_| DecodeError::Invalid(format!("series id {v} out of range")))
}

/// Decodes one record.
pub(crate) fn decode(buf: &[u8]) -> Result<Record, DecodeError> {
    let mut r = ByteReader::new(buf);
    let kind = r.u8()?;
    // Each entry takes at least one byte, which bounds hostile counts.
    let n = r.len_prefix(r.remaining())?;
    Ok(match kind {
        SERIES => {
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let id = read_id(&mut r)?;
                let labels = read_labels(&mut r)?;
                out.push(SeriesRecord { id, labels });
            }
            Record::Series(out)
        }
        SAMPLES | OOO_SAMPLES => {
            let mut out = Vec::with_capacity(n);
            if n > 0 {
                let base_t = r.varint()?;
                let mut id = 0i64;
                for _ in 0..n {
                    id += r.varint()?;
                    let id32 =
                        u32::try_from(id).map_err(|_| DecodeError::Invalid(format!("series id {id} out of range")))?;
                    let t = base_t.wrapping_add(r.varint()?);
                    let v = f64::from_bits(r.u64_be()?);
                    out.push(RefSample { id: id32, t, v });
                }
            }
            if kind == SAMPLES { Record::Samples(out) } else { Record::OooSamples(out) }
        }
        SERIES_STATE => {
            let mut out = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                let id = read_id(&mut r)?;
                let labels = read_labels(&mut r)?;
                let data = MemSeries::decode_data(&mut r)?;
                out.push(SeriesStateRecord { id, labels, data });
            }
            Record::SeriesState(out)
        }
        EXEMPLARS => {
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let id = read_id(&mut r)?;
                let t = r.varint()?;
                let v = f64::from_bits(r.u64_be()?);
                let labels = read_labels(&mut r)?;
                out.push(RefExemplar { id, t, v, labels });
            }
            Record::Exemplars(out)
        }
        METADATA => {
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let metric_family = r.str()?.to_string();
                let kind = MetricType::parse(r.str()?);
                let help = r.str()?.to_string();
                let unit = r.str()?.to_string();
                out.push(MetricMetadata { metric_family, kind, help, unit });
            }
            Record::Metadata(out)
        }
        HISTOGRAMS => {
            let mut out = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                let id = read_id(&mut r)?;
                let t = r.varint()?;
                let h = crate::histcodec::decode(&mut r)?;
                out.push(RefHistogram { id, t, h });
            }
            Record::Histograms(out)
        }
        k => return Err(DecodeError::Invalid(format!("unknown record type {k}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let a = Labels::from_pairs([("__name__", "x"), ("job", "j")]);
        let mut buf = Vec::new();
        encode_series(&mut buf, &[(7, &a), (9, &Labels::empty())]);
        let Record::Series(got) = decode(&buf).unwrap() else { panic!() };
        assert_eq!(
            got,
            vec![SeriesRecord { id: 7, labels: a.clone() }, SeriesRecord { id: 9, labels: Labels::empty() }]
        );
        let samples = vec![
            RefSample { id: 9, t: 1000, v: 1.5 },
            RefSample { id: 3, t: 500, v: f64::INFINITY },
            RefSample { id: 3, t: 2000, v: -0.0 },
        ];
        buf.clear();
        encode_samples(&mut buf, &samples, false);
        let Record::Samples(got) = decode(&buf).unwrap() else { panic!() };
        assert_eq!(got, samples);
        buf.clear();
        encode_samples(&mut buf, &samples, true);
        let Record::OooSamples(got) = decode(&buf).unwrap() else { panic!() };
        assert_eq!(got, samples);
        let ex = vec![RefExemplar { id: 1, t: 5, v: 0.25, labels: Labels::from_pairs([("trace_id", "abc")]) }];
        buf.clear();
        encode_exemplars(&mut buf, &ex);
        let Record::Exemplars(got) = decode(&buf).unwrap() else { panic!() };
        assert_eq!(got, ex);
        let md = vec![MetricMetadata {
            metric_family: "x".into(),
            kind: MetricType::Counter,
            help: "h".into(),
            unit: "".into(),
        }];
        buf.clear();
        encode_metadata(&mut buf, &md);
        let Record::Metadata(got) = decode(&buf).unwrap() else { panic!() };
        assert_eq!(got, md);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut x: u64 = 5;
        for len in 0..500 {
            let mut buf = vec![(len % 5) as u8];
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(x as u8);
            }
            let _ = decode(&buf);
        }
    }
}
