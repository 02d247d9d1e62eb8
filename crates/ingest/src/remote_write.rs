//! Prometheus remote write 1.0: snappy-compressed `prometheus.WriteRequest`.

mod view;

pub use view::{SeriesSpan, WriteView, decode_view};

use crate::proto::prompb::{self, MetricType as PbType, WriteRequest};
use crate::{DecodeError, Rejected, reject, snappy_decompress};
use prost::Message;
use seer_model::{
    BucketSpan, CounterResetHint, Exemplar, FloatHistogram, HistogramSample, Label, Labels, MetricMetadata, MetricType,
    Sample, SeriesHistograms, SeriesSamples,
};

/// Longest exemplar label set, in characters (names and values), as OpenMetrics allows.
pub const MAX_EXEMPLAR_LABEL_CHARS: usize = 128;

/// A decoded write request.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WriteBatch {
    /// Series with samples and exemplars.
    pub series: Vec<SeriesSamples>,
    /// Series with native histogram samples.
    pub histograms: Vec<SeriesHistograms>,
    /// Metadata of metric families.
    pub metadata: Vec<MetricMetadata>,
    /// Series refused while decoding (bad label sets, unsupported sample kinds).
    pub rejected: Vec<Rejected>,
    /// Exemplars dropped (too long label sets); never an error, as in Prometheus.
    pub exemplars_dropped: u64,
}

impl WriteBatch {
    /// Total samples in the batch.
    pub fn num_samples(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }
}

/// Decodes a snappy-compressed `WriteRequest` whose decompressed size may not exceed
/// `max_decompressed` bytes.
pub fn decode(body: &[u8], max_decompressed: usize) -> Result<WriteBatch, DecodeError> {
    let raw = snappy_decompress(body, max_decompressed)?;
    let req = WriteRequest::decode(raw.as_slice()).map_err(|e| DecodeError::Protobuf(e.to_string()))?;
    Ok(convert(req))
}

fn labels_of(pb: Vec<prompb::Label>) -> Result<Labels, String> {
    let pairs: Vec<Label> = pb.into_iter().map(|l| Label { name: l.name, value: l.value }).collect();
    let labels = Labels::from_pairs_checked(pairs).map_err(|n| format!("label name {n:?} is not unique"))?;
    if labels.is_empty() {
        return Err("empty label set".to_string());
    }
    if labels.iter().any(|l| l.name.is_empty()) {
        return Err("empty label name".to_string());
    }
    Ok(labels)
}

/// Converts a decoded request into Seer's model.
pub fn convert(req: WriteRequest) -> WriteBatch {
    let mut batch = WriteBatch::default();
    batch.series.reserve(req.timeseries.len());
    for ts in req.timeseries {
        let n = (ts.samples.len() + ts.histograms.len()) as u64;
        let labels = match labels_of(ts.labels) {
            Ok(l) => l,
            Err(msg) => {
                reject(&mut batch.rejected, msg, n);
                continue;
            }
        };
        if !ts.histograms.is_empty() {
            let mut hs = Vec::with_capacity(ts.histograms.len());
            for h in &ts.histograms {
                match histogram_from_proto(h) {
                    Ok(x) => hs.push(x),
                    Err(msg) => reject(&mut batch.rejected, msg, 1),
                }
            }
            if !hs.is_empty() {
                batch.histograms.push(SeriesHistograms { labels: labels.clone(), histograms: hs });
            }
        }
        if ts.samples.is_empty() {
            continue;
        }
        let samples: Vec<Sample> = ts.samples.iter().map(|s| Sample { t: s.timestamp, v: s.value }).collect();
        let mut exemplars = Vec::with_capacity(ts.exemplars.len());
        for e in ts.exemplars {
            let chars: usize = e.labels.iter().map(|l| l.name.chars().count() + l.value.chars().count()).sum();
            let Ok(el) = Labels::from_pairs_checked(
                e.labels.into_iter().map(|l| Label { name: l.name, value: l.value }).collect(),
            ) else {
                batch.exemplars_dropped += 1;
                continue;
            };
            if chars > MAX_EXEMPLAR_LABEL_CHARS {
                batch.exemplars_dropped += 1;
                continue;
            }
            // A zero timestamp means "none": use the series' newest sample time.
            let t = if e.timestamp != 0 { e.timestamp } else { samples.iter().map(|s| s.t).max().unwrap_or(0) };
            exemplars.push(Exemplar { labels: el, t, v: e.value });
        }
        batch.series.push(SeriesSamples { labels, samples, exemplars });
    }
    for m in req.metadata {
        if m.metric_family_name.is_empty() {
            continue;
        }
        let kind = match PbType::try_from(m.r#type).unwrap_or(PbType::Unknown) {
            PbType::Unknown => MetricType::Unknown,
            PbType::Counter => MetricType::Counter,
            PbType::Gauge => MetricType::Gauge,
            PbType::Histogram => MetricType::Histogram,
            PbType::Gaugehistogram => MetricType::GaugeHistogram,
            PbType::Summary => MetricType::Summary,
            PbType::Info => MetricType::Info,
            PbType::Stateset => MetricType::StateSet,
        };
        batch.metadata.push(MetricMetadata { metric_family: m.metric_family_name, kind, help: m.help, unit: m.unit });
    }
    batch
}

/// Decodes only the native histograms of an already decompressed `WriteRequest` (the float
/// samples go through [`decode_view`]).
pub fn decode_histograms(raw: &[u8]) -> Result<(Vec<SeriesHistograms>, Vec<Rejected>), DecodeError> {
    let req = WriteRequest::decode(raw).map_err(|e| DecodeError::Protobuf(e.to_string()))?;
    let mut out = Vec::new();
    let mut rejected = Vec::new();
    for ts in req.timeseries {
        if ts.histograms.is_empty() {
            continue;
        }
        let labels = match labels_of(ts.labels) {
            Ok(l) => l,
            Err(msg) => {
                reject(&mut rejected, msg, ts.histograms.len() as u64);
                continue;
            }
        };
        let mut hs = Vec::with_capacity(ts.histograms.len());
        for h in &ts.histograms {
            match histogram_from_proto(h) {
                Ok(x) => hs.push(x),
                Err(msg) => reject(&mut rejected, msg, 1),
            }
        }
        if !hs.is_empty() {
            out.push(SeriesHistograms { labels, histograms: hs });
        }
    }
    Ok((out, rejected))
}

/// Converts a remote-write histogram (integer with delta-encoded buckets, or float) into a
/// float histogram, checking it the way Prometheus' head does. Schemas 9..=52 are reduced
/// to 8.
pub fn histogram_from_proto(h: &prompb::Histogram) -> Result<HistogramSample, String> {
    use prompb::histogram::{Count, ZeroCount};
    let is_float = matches!(h.count, Some(Count::CountFloat(_)));
    let spans = |v: &[prompb::BucketSpan]| -> Vec<BucketSpan> {
        v.iter().map(|s| BucketSpan { offset: s.offset, length: s.length }).collect()
    };
    let absolute = |deltas: &[i64], side: &str| -> Result<Vec<f64>, String> {
        let mut out = Vec::with_capacity(deltas.len());
        let mut cur: i64 = 0;
        for (i, d) in deltas.iter().enumerate() {
            cur = cur.checked_add(*d).ok_or_else(|| format!("{side} bucket {i} overflows"))?;
            if cur < 0 {
                return Err(format!(
                    "{side} side: bucket number {} has observation count of {cur}: histogram has a bucket whose observation count is negative",
                    i + 1
                ));
            }
            out.push(cur as f64);
        }
        Ok(out)
    };
    let (count, zero_count, pos, neg) = if is_float {
        let count = match h.count {
            Some(Count::CountFloat(c)) => c,
            _ => 0.0,
        };
        let zc = match h.zero_count {
            Some(ZeroCount::ZeroCountFloat(z)) => z,
            Some(ZeroCount::ZeroCountInt(z)) => z as f64,
            None => 0.0,
        };
        (count, zc, h.positive_counts.clone(), h.negative_counts.clone())
    } else {
        let count = match h.count {
            Some(Count::CountInt(c)) => c as f64,
            _ => 0.0,
        };
        let zc = match h.zero_count {
            Some(ZeroCount::ZeroCountInt(z)) => z as f64,
            Some(ZeroCount::ZeroCountFloat(z)) => z,
            None => 0.0,
        };
        (count, zc, absolute(&h.positive_deltas, "positive")?, absolute(&h.negative_deltas, "negative")?)
    };
    let mut fh = FloatHistogram {
        counter_reset_hint: match h.reset_hint {
            1 => CounterResetHint::CounterReset,
            2 => CounterResetHint::NotCounterReset,
            3 => CounterResetHint::Gauge,
            _ => CounterResetHint::Unknown,
        },
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count,
        count,
        sum: h.sum,
        positive_spans: spans(&h.positive_spans),
        negative_spans: spans(&h.negative_spans),
        positive_buckets: pos,
        negative_buckets: neg,
        custom_values: h.custom_values.clone(),
    };
    validate_histogram(&mut fh)?;
    Ok(HistogramSample { t: h.timestamp, h: fh })
}

/// Prometheus' histogram validation (texts from its `Validate`); reduces schemas 9..=52 to 8.
pub fn validate_histogram(h: &mut FloatHistogram) -> Result<(), String> {
    if (9..=52).contains(&h.schema) {
        seer_model::histogram::reduce_resolution(h, 8);
    }
    let spanned = |s: &[BucketSpan]| s.iter().map(|x| x.length as usize).sum::<usize>();
    if h.uses_custom_buckets() {
        for w in h.custom_values.windows(2) {
            // Also refuses NaN bounds, which compare neither way.
            if w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less) {
                return Err(format!(
                    "custom buckets: previous bound is {:.6} and current is {:.6}: histogram custom bounds must be in strictly increasing order",
                    w[0], w[1]
                ));
            }
        }
        if h.custom_values.iter().any(|v| v.is_nan()) {
            return Err("custom buckets: histogram custom bounds must not be NaN".into());
        }
        if h.custom_values.last().is_some_and(|v| v.is_infinite()) {
            return Err("custom buckets: last +Inf bound must not be explicitly defined: histogram custom bounds must be finite".into());
        }
        if h.positive_spans.iter().any(|s| s.offset < 0) {
            return Err("custom buckets: histogram has a span whose offset is negative".into());
        }
        if !h.negative_spans.is_empty() || !h.negative_buckets.is_empty() {
            return Err("custom buckets: must not have negative buckets".into());
        }
        let total: i64 = h.positive_spans.iter().map(|s| s.offset as i64 + s.length as i64).sum();
        if total > h.custom_values.len() as i64 + 1 {
            return Err(format!(
                "custom buckets: only {} custom bounds defined which is insufficient to cover total span length of {total}: histogram custom bounds are too few",
                h.custom_values.len()
            ));
        }
    } else if (-4..=8).contains(&h.schema) {
        if !h.custom_values.is_empty() {
            return Err("histogram with exponential schema must not have custom bounds".into());
        }
        for (side, spans) in [("positive", &h.positive_spans), ("negative", &h.negative_spans)] {
            for (i, s) in spans.iter().enumerate().skip(1) {
                if s.offset < 0 {
                    return Err(format!(
                        "{side} side: span number {} with offset {}: histogram has a span whose offset is negative",
                        i + 1,
                        s.offset
                    ));
                }
            }
        }
        if h.zero_count < 0.0 {
            return Err(format!(
                "zero bucket has observation count of {}: histogram has a bucket whose observation count is negative",
                h.zero_count
            ));
        }
    } else {
        return Err(format!(
            "histogram has an invalid schema, which must be between -4 and 8 for exponential buckets, or -53 for custom buckets, got schema {}",
            h.schema
        ));
    }
    for (side, spans, buckets) in
        [("positive", &h.positive_spans, &h.positive_buckets), ("negative", &h.negative_spans, &h.negative_buckets)]
    {
        if spanned(spans) != buckets.len() {
            return Err(format!(
                "{side} side: spans need {} buckets, have {} buckets: histogram spans specify different number of buckets than provided",
                spanned(spans),
                buckets.len()
            ));
        }
        if let Some((i, c)) = buckets.iter().enumerate().find(|(_, c)| **c < 0.0) {
            return Err(format!(
                "{side} side: bucket number {} has observation count of {c}: histogram has a bucket whose observation count is negative",
                i + 1
            ));
        }
    }
    if h.count < 0.0 {
        return Err(format!("observation count is  {}: histogram's observation count is negative", h.count));
    }
    Ok(())
}

/// A float histogram as a remote-write `Histogram` (float counts).
pub fn histogram_to_proto(t: i64, h: &FloatHistogram) -> prompb::Histogram {
    use prompb::histogram::{Count, ZeroCount};
    let spans = |v: &[BucketSpan]| -> Vec<prompb::BucketSpan> {
        v.iter().map(|s| prompb::BucketSpan { offset: s.offset, length: s.length }).collect()
    };
    prompb::Histogram {
        count: Some(Count::CountFloat(h.count)),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: Some(ZeroCount::ZeroCountFloat(h.zero_count)),
        negative_spans: spans(&h.negative_spans),
        negative_deltas: vec![],
        negative_counts: h.negative_buckets.clone(),
        positive_spans: spans(&h.positive_spans),
        positive_deltas: vec![],
        positive_counts: h.positive_buckets.clone(),
        reset_hint: match h.counter_reset_hint {
            CounterResetHint::Unknown => 0,
            CounterResetHint::CounterReset => 1,
            CounterResetHint::NotCounterReset => 2,
            CounterResetHint::Gauge => 3,
        },
        timestamp: t,
        custom_values: h.custom_values.clone(),
    }
}

fn proto_labels(l: &Labels) -> Vec<prompb::Label> {
    l.iter().map(|l| prompb::Label { name: l.name.clone(), value: l.value.clone() }).collect()
}

/// Encodes native histogram series as a snappy-compressed `WriteRequest` (for tests and
/// benchmarks).
pub fn encode_histograms(series: &[SeriesHistograms]) -> Vec<u8> {
    let req = WriteRequest {
        timeseries: series
            .iter()
            .map(|s| prompb::TimeSeries {
                labels: proto_labels(&s.labels),
                samples: vec![],
                exemplars: vec![],
                histograms: s.histograms.iter().map(|h| histogram_to_proto(h.t, &h.h)).collect(),
            })
            .collect(),
        metadata: vec![],
    };
    snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).expect("snappy never fails on a Vec")
}

/// Encodes a batch as a snappy-compressed `WriteRequest` (for tests, benchmarks and the
/// forwarding agent).
pub fn encode(series: &[SeriesSamples], metadata: &[MetricMetadata]) -> Vec<u8> {
    let req = WriteRequest {
        timeseries: series
            .iter()
            .map(|s| prompb::TimeSeries {
                labels: proto_labels(&s.labels),
                samples: s.samples.iter().map(|x| prompb::Sample { value: x.v, timestamp: x.t }).collect(),
                exemplars: s
                    .exemplars
                    .iter()
                    .map(|e| prompb::Exemplar {
                        labels: e
                            .labels
                            .iter()
                            .map(|l| prompb::Label { name: l.name.clone(), value: l.value.clone() })
                            .collect(),
                        value: e.v,
                        timestamp: e.t,
                    })
                    .collect(),
                histograms: vec![],
            })
            .collect(),
        metadata: metadata
            .iter()
            .map(|m| prompb::MetricMetadata {
                r#type: match m.kind {
                    MetricType::Unknown => 0,
                    MetricType::Counter => 1,
                    MetricType::Gauge => 2,
                    MetricType::Histogram => 3,
                    MetricType::GaugeHistogram => 4,
                    MetricType::Summary => 5,
                    MetricType::Info => 6,
                    MetricType::StateSet => 7,
                },
                metric_family_name: m.metric_family.clone(),
                help: m.help.clone(),
                unit: m.unit.clone(),
            })
            .collect(),
    };
    snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).expect("snappy compression of a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pb_label(n: &str, v: &str) -> prompb::Label {
        prompb::Label { name: n.into(), value: v.into() }
    }

    #[test]
    fn round_trip() {
        let s = vec![SeriesSamples {
            labels: Labels::from_pairs([("__name__", "up"), ("job", "a")]),
            samples: vec![Sample { t: 1, v: 1.0 }, Sample { t: 2, v: seer_model::stale_nan() }],
            exemplars: vec![Exemplar { labels: Labels::from_pairs([("trace_id", "abc")]), t: 2, v: 3.0 }],
        }];
        let md = vec![MetricMetadata {
            metric_family: "up".into(),
            kind: MetricType::Gauge,
            help: "h".into(),
            unit: String::new(),
        }];
        let b = decode(&encode(&s, &md), 1 << 20).unwrap();
        assert_eq!(b.metadata, md);
        assert_eq!(b.series[0].labels, s[0].labels);
        assert!(seer_model::is_stale_nan(b.series[0].samples[1].v));
        assert_eq!(b.series[0].exemplars, s[0].exemplars);
    }

    #[test]
    fn bad_series_are_rejected_individually() {
        let req = WriteRequest {
            timeseries: vec![
                prompb::TimeSeries {
                    labels: vec![pb_label("z", "1"), pb_label("__name__", "ok"), pb_label("empty", "")],
                    samples: vec![prompb::Sample { value: 1.0, timestamp: 5 }],
                    ..Default::default()
                },
                prompb::TimeSeries {
                    labels: vec![pb_label("a", "1"), pb_label("a", "2")],
                    samples: vec![prompb::Sample { value: 1.0, timestamp: 5 }],
                    ..Default::default()
                },
                prompb::TimeSeries { labels: vec![], samples: vec![prompb::Sample::default()], ..Default::default() },
            ],
            metadata: vec![],
        };
        let b = convert(req);
        assert_eq!(b.series.len(), 1);
        assert_eq!(b.series[0].labels.to_string(), r#"{__name__="ok", z="1"}"#);
        assert_eq!(b.rejected.len(), 2);
        assert!(b.rejected[0].message.contains("not unique"));
        assert_eq!(b.rejected[1].message, "empty label set");
    }

    /// The zero-copy decoder agrees with the prost-based one on every valid request.
    #[test]
    fn view_agrees_with_prost() {
        let mut x: u64 = 3;
        for round in 0..200 {
            let mut series = Vec::new();
            for i in 0..(round % 7) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let mut labels = vec![
                    pb_label("__name__", &format!("m{}", x % 3)),
                    pb_label("z", &format!("{}", x % 5)),
                    pb_label("a", ""),
                ];
                if x.is_multiple_of(4) {
                    labels.reverse();
                }
                if x.is_multiple_of(11) {
                    labels.push(pb_label("z", "dup"));
                }
                series.push(prompb::TimeSeries {
                    labels,
                    samples: (0..(x % 3))
                        .map(|k| prompb::Sample { value: (k + i) as f64 / 3.0, timestamp: (k * 1000) as i64 - 5 })
                        .collect(),
                    exemplars: if x.is_multiple_of(5) {
                        vec![prompb::Exemplar { labels: vec![pb_label("trace_id", "t")], value: 1.5, timestamp: 0 }]
                    } else {
                        vec![]
                    },
                    histograms: vec![],
                });
            }
            let req = WriteRequest {
                timeseries: series,
                metadata: vec![prompb::MetricMetadata {
                    r#type: 2,
                    metric_family_name: "m0".into(),
                    help: "h".into(),
                    unit: "u".into(),
                }],
            };
            let raw = req.encode_to_vec();
            let owned = convert(req);
            let view = decode_view(&raw).unwrap();
            assert_eq!(view.series.len(), owned.series.len());
            for (span, s) in view.series.iter().zip(&owned.series) {
                let pairs: Vec<(String, String)> =
                    view.labels[span.labels.clone()].iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
                let want: Vec<(String, String)> = s.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
                assert_eq!(pairs, want);
                assert_eq!(&view.samples[span.samples.clone()], &s.samples[..]);
                assert_eq!(&view.exemplars[span.exemplars.clone()], &s.exemplars[..]);
            }
            assert_eq!(view.rejected, owned.rejected);
            assert_eq!(view.metadata, owned.metadata);
        }
    }

    #[test]
    fn view_rejects_garbage_like_prost() {
        let mut x: u64 = 99;
        for len in 0..600 {
            let mut buf = Vec::new();
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(x as u8);
            }
            let _ = decode_view(&buf);
        }
        assert!(decode_view(&[0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode_view(&[0x08, 0x05]).unwrap_err().to_string().contains("wrong wire type"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(decode(b"hello world", 1 << 20), Err(DecodeError::Snappy(_))));
        let bad = snap::raw::Encoder::new().compress_vec(&[0xff, 0xff, 0xff, 0xff]).unwrap();
        assert!(matches!(decode(&bad, 1 << 20), Err(DecodeError::Protobuf(_))));
        let empty = snap::raw::Encoder::new().compress_vec(&[]).unwrap();
        assert_eq!(decode(&empty, 1 << 20).unwrap(), WriteBatch::default());
    }
}
