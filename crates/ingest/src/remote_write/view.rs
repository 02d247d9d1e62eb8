//! A zero-copy decoder of `prometheus.WriteRequest`: label strings borrow from the
//! decompressed body, so ingesting a sample of a known series allocates nothing.

use super::MAX_EXEMPLAR_LABEL_CHARS;
use crate::proto::prompb::MetricType as PbType;
use crate::{DecodeError, Rejected, reject};
use seer_model::{Exemplar, Label, Labels, MetricMetadata, MetricType, Sample};
use std::ops::Range;

/// One series of a [`WriteView`]: ranges into its flat arrays.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesSpan {
    /// Into [`WriteView::labels`]: sorted by name, unique, no empty values.
    pub labels: Range<usize>,
    /// Into [`WriteView::samples`].
    pub samples: Range<usize>,
    /// Into [`WriteView::exemplars`].
    pub exemplars: Range<usize>,
}

/// A decoded write request borrowing from the decompressed body.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteView<'a> {
    /// Label pairs of every series, back to back.
    pub labels: Vec<(&'a str, &'a str)>,
    /// Samples of every series, back to back.
    pub samples: Vec<Sample>,
    /// Exemplars of every series, back to back.
    pub exemplars: Vec<Exemplar>,
    /// The series.
    pub series: Vec<SeriesSpan>,
    /// Metric family metadata.
    pub metadata: Vec<MetricMetadata>,
    /// Series refused while decoding.
    pub rejected: Vec<Rejected>,
    /// Exemplars dropped (over 128 characters of labels, duplicate names).
    pub exemplars_dropped: u64,
    /// Native histogram samples seen (decoded separately by [`super::decode_histograms`]).
    pub histograms: u64,
}

impl WriteView<'_> {
    /// Total samples.
    pub fn num_samples(&self) -> usize {
        self.samples.len()
    }
}

struct Pb<'a> {
    b: &'a [u8],
    i: usize,
}

fn err(msg: &str) -> DecodeError {
    DecodeError::Protobuf(msg.to_string())
}

impl<'a> Pb<'a> {
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.b.get(self.i) else { return Err(err("unexpected end of data in varint")) };
            self.i += 1;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte < 0x80 {
                return Ok(v);
            }
        }
        Err(err("varint longer than 10 bytes"))
    }

    fn key(&mut self) -> Result<(u32, u8), DecodeError> {
        let k = self.varint()?;
        let field = (k >> 3) as u32;
        if field == 0 {
            return Err(err("invalid field number 0"));
        }
        Ok((field, (k & 7) as u8))
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.varint()? as usize;
        let end = self
            .i
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| err("length-delimited field past the end of the message"))?;
        let s = &self.b[self.i..end];
        self.i = end;
        Ok(s)
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| err("invalid string value: data is not UTF-8 encoded"))
    }

    fn fixed64(&mut self) -> Result<u64, DecodeError> {
        let b = self.b.get(self.i..self.i + 8).ok_or_else(|| err("unexpected end of data in fixed64"))?;
        self.i += 8;
        Ok(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }

    fn skip(&mut self, wire: u8) -> Result<(), DecodeError> {
        match wire {
            0 => {
                self.varint()?;
            }
            1 => {
                self.fixed64()?;
            }
            2 => {
                self.bytes()?;
            }
            5 => {
                if self.i + 4 > self.b.len() {
                    return Err(err("unexpected end of data in fixed32"));
                }
                self.i += 4;
            }
            w => return Err(err(&format!("invalid wire type {w}"))),
        }
        Ok(())
    }

    fn expect(&self, wire: u8, want: u8, field: &str) -> Result<(), DecodeError> {
        if wire == want { Ok(()) } else { Err(err(&format!("wrong wire type {wire} for field {field}"))) }
    }
}

fn label(b: &[u8]) -> Result<(&str, &str), DecodeError> {
    let mut p = Pb { b, i: 0 };
    let (mut name, mut value) = ("", "");
    while !p.done() {
        match p.key()? {
            (1, w) => {
                p.expect(w, 2, "Label.name")?;
                name = p.str()?;
            }
            (2, w) => {
                p.expect(w, 2, "Label.value")?;
                value = p.str()?;
            }
            (_, w) => p.skip(w)?,
        }
    }
    Ok((name, value))
}

/// Sorts a series' labels in place, drops empty values, and checks names, with the same
/// outcomes as [`super::convert`].
fn normalise(pairs: &mut Vec<(&str, &str)>) -> Result<(), String> {
    if !pairs.windows(2).all(|w| w[0].0 < w[1].0) {
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!("label name {:?} is not unique", w[0].0));
        }
    }
    pairs.retain(|(_, v)| !v.is_empty());
    if pairs.is_empty() {
        return Err("empty label set".into());
    }
    if pairs.iter().any(|(n, _)| n.is_empty()) {
        return Err("empty label name".into());
    }
    Ok(())
}

fn metric_type(v: u64) -> MetricType {
    match PbType::try_from(v as i32).unwrap_or(PbType::Unknown) {
        PbType::Unknown => MetricType::Unknown,
        PbType::Counter => MetricType::Counter,
        PbType::Gauge => MetricType::Gauge,
        PbType::Histogram => MetricType::Histogram,
        PbType::Gaugehistogram => MetricType::GaugeHistogram,
        PbType::Summary => MetricType::Summary,
        PbType::Info => MetricType::Info,
        PbType::Stateset => MetricType::StateSet,
    }
}

/// Decodes a (decompressed) `WriteRequest`.
pub fn decode_view(raw: &[u8]) -> Result<WriteView<'_>, DecodeError> {
    let mut v = WriteView::default();
    let mut p = Pb { b: raw, i: 0 };
    let mut series_labels: Vec<(&str, &str)> = Vec::new();
    let mut ex_labels: Vec<(&str, &str)> = Vec::new();
    while !p.done() {
        match p.key()? {
            (1, w) => {
                p.expect(w, 2, "WriteRequest.timeseries")?;
                let mut ts = Pb { b: p.bytes()?, i: 0 };
                series_labels.clear();
                let sample_start = v.samples.len();
                let ex_start = v.exemplars.len();
                let mut histograms = 0u64;
                while !ts.done() {
                    match ts.key()? {
                        (1, w) => {
                            ts.expect(w, 2, "TimeSeries.labels")?;
                            series_labels.push(label(ts.bytes()?)?);
                        }
                        (2, w) => {
                            ts.expect(w, 2, "TimeSeries.samples")?;
                            let mut sp = Pb { b: ts.bytes()?, i: 0 };
                            let mut s = Sample { t: 0, v: 0.0 };
                            while !sp.done() {
                                match sp.key()? {
                                    (1, w) => {
                                        sp.expect(w, 1, "Sample.value")?;
                                        s.v = f64::from_bits(sp.fixed64()?);
                                    }
                                    (2, w) => {
                                        sp.expect(w, 0, "Sample.timestamp")?;
                                        s.t = sp.varint()? as i64;
                                    }
                                    (_, w) => sp.skip(w)?,
                                }
                            }
                            v.samples.push(s);
                        }
                        (3, w) => {
                            ts.expect(w, 2, "TimeSeries.exemplars")?;
                            let mut ep = Pb { b: ts.bytes()?, i: 0 };
                            ex_labels.clear();
                            let (mut value, mut t) = (0.0, 0i64);
                            while !ep.done() {
                                match ep.key()? {
                                    (1, w) => {
                                        ep.expect(w, 2, "Exemplar.labels")?;
                                        ex_labels.push(label(ep.bytes()?)?);
                                    }
                                    (2, w) => {
                                        ep.expect(w, 1, "Exemplar.value")?;
                                        value = f64::from_bits(ep.fixed64()?);
                                    }
                                    (3, w) => {
                                        ep.expect(w, 0, "Exemplar.timestamp")?;
                                        t = ep.varint()? as i64;
                                    }
                                    (_, w) => ep.skip(w)?,
                                }
                            }
                            let chars: usize =
                                ex_labels.iter().map(|(n, v)| n.chars().count() + v.chars().count()).sum();
                            let labels =
                                Labels::from_pairs_checked(ex_labels.iter().map(|(n, v)| Label::new(*n, *v)).collect());
                            match labels {
                                Ok(l) if chars <= MAX_EXEMPLAR_LABEL_CHARS => {
                                    v.exemplars.push(Exemplar { labels: l, t, v: value })
                                }
                                _ => v.exemplars_dropped += 1,
                            }
                        }
                        (4, w) => {
                            ts.expect(w, 2, "TimeSeries.histograms")?;
                            ts.bytes()?;
                            histograms += 1;
                        }
                        (_, w) => ts.skip(w)?,
                    }
                }
                let n = (v.samples.len() - sample_start) as u64;
                if let Err(msg) = normalise(&mut series_labels) {
                    // The histogram pass refuses the histograms of this series itself.
                    reject(&mut v.rejected, msg, n);
                    v.samples.truncate(sample_start);
                    v.exemplars.truncate(ex_start);
                    continue;
                }
                v.histograms += histograms;
                if n == 0 {
                    v.exemplars.truncate(ex_start);
                    continue;
                }
                // A zero exemplar timestamp means "none": use the series' newest sample time.
                let newest = v.samples[sample_start..].iter().map(|s| s.t).max().unwrap_or(0);
                for e in &mut v.exemplars[ex_start..] {
                    if e.t == 0 {
                        e.t = newest;
                    }
                }
                let start = v.labels.len();
                v.labels.extend_from_slice(&series_labels);
                v.series.push(SeriesSpan {
                    labels: start..v.labels.len(),
                    samples: sample_start..v.samples.len(),
                    exemplars: ex_start..v.exemplars.len(),
                });
            }
            (3, w) => {
                p.expect(w, 2, "WriteRequest.metadata")?;
                let mut mp = Pb { b: p.bytes()?, i: 0 };
                let mut md = MetricMetadata::default();
                while !mp.done() {
                    match mp.key()? {
                        (1, w) => {
                            mp.expect(w, 0, "MetricMetadata.type")?;
                            md.kind = metric_type(mp.varint()?);
                        }
                        (2, w) => {
                            mp.expect(w, 2, "MetricMetadata.metric_family_name")?;
                            md.metric_family = mp.str()?.to_string();
                        }
                        (4, w) => {
                            mp.expect(w, 2, "MetricMetadata.help")?;
                            md.help = mp.str()?.to_string();
                        }
                        (5, w) => {
                            mp.expect(w, 2, "MetricMetadata.unit")?;
                            md.unit = mp.str()?.to_string();
                        }
                        (_, w) => mp.skip(w)?,
                    }
                }
                if !md.metric_family.is_empty() {
                    v.metadata.push(md);
                }
            }
            (_, w) => p.skip(w)?,
        }
    }
    Ok(v)
}
